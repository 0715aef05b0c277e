// Package placement chooses where an app instance runs and where a build
// stages, from the DEAs' cached advertisements. It is pure: the caller
// passes the candidates and a random source.
//
// Instance placement is CC_NG's filter chain: stack, memory and disk fit →
// the zone with the fewest instances of this app → the DEAs with the fewest
// instances of this app (anti-affinity) → the upper half by free memory →
// random among what is left.
package placement

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
)

// DefaultZone is the zone of a DEA that advertises none.
const DefaultZone = "default"

// Candidate is one DEA's advertisement as the placer sees it.
type Candidate struct {
	ID       string
	Zone     string
	Stacks   []string
	MemoryMB int64 // available
	DiskMB   int64 // available
	// AppCount is how many instances of the app being placed run there.
	AppCount int
}

// Request describes what must fit.
type Request struct {
	// Stack is required of the DEA; "" accepts any.
	Stack    string
	MemoryMB int64
	DiskMB   int64
}

// Eligible keeps the candidates that have the stack and room.
func Eligible(cands []Candidate, req Request) []Candidate {
	var out []Candidate
	for _, c := range cands {
		if req.Stack != "" && !slices.Contains(c.Stacks, req.Stack) {
			continue
		}
		if c.MemoryMB < req.MemoryMB || c.DiskMB < req.DiskMB {
			continue
		}
		out = append(out, c)
	}
	return out
}

func zoneOf(c Candidate) string {
	if c.Zone == "" {
		return DefaultZone
	}
	return c.Zone
}

// Choose picks the DEA for one instance, or false when none is eligible.
func Choose(cands []Candidate, req Request, rnd *rand.Rand) (Candidate, bool) {
	el := Eligible(cands, req)
	if len(el) == 0 {
		return Candidate{}, false
	}
	// Zone with the fewest instances of this app (over eligible DEAs).
	perZone := map[string]int{}
	for _, c := range el {
		perZone[zoneOf(c)] += c.AppCount
	}
	minZone := -1
	for _, n := range perZone {
		if minZone < 0 || n < minZone {
			minZone = n
		}
	}
	var inZone []Candidate
	for _, c := range el {
		if perZone[zoneOf(c)] == minZone {
			inZone = append(inZone, c)
		}
	}
	// Fewest instances of this app on the DEA.
	minApp := inZone[0].AppCount
	for _, c := range inZone {
		minApp = min(minApp, c.AppCount)
	}
	var fewest []Candidate
	for _, c := range inZone {
		if c.AppCount == minApp {
			fewest = append(fewest, c)
		}
	}
	// Upper half by free memory.
	top := upperHalf(fewest)
	return top[rnd.IntN(len(top))], true
}

// upperHalf sorts by free memory (desc) and keeps the top half (at least
// one), plus every candidate tied with the last one kept so that equals
// are treated equally.
func upperHalf(cs []Candidate) []Candidate {
	s := append([]Candidate(nil), cs...)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].MemoryMB != s[j].MemoryMB {
			return s[i].MemoryMB > s[j].MemoryMB
		}
		return s[i].ID < s[j].ID
	})
	keep := (len(s) + 1) / 2
	for keep < len(s) && s[keep].MemoryMB == s[keep-1].MemoryMB {
		keep++
	}
	return s[:keep]
}

// TopStagers is how many of the roomiest stagers a build is spread over.
const TopStagers = 5

// ChooseStager picks the DEA to stage on: among the eligible ones, one of
// the TopStagers with the most free memory, at random.
func ChooseStager(cands []Candidate, req Request, rnd *rand.Rand) (Candidate, bool) {
	el := Eligible(cands, req)
	if len(el) == 0 {
		return Candidate{}, false
	}
	sort.SliceStable(el, func(i, j int) bool {
		if el[i].MemoryMB != el[j].MemoryMB {
			return el[i].MemoryMB > el[j].MemoryMB
		}
		return el[i].ID < el[j].ID
	})
	n := min(TopStagers, len(el))
	return el[rnd.IntN(n)], true
}

// Explain says why no candidate is eligible for req, in the words a user
// sees in `ingot app`: no DEA at all, none with the stack, or the most
// memory and disk any of them has free.
func Explain(cands []Candidate, req Request) string {
	if len(cands) == 0 {
		return "insufficient resources: no DEA is available"
	}
	var withStack []Candidate
	for _, c := range cands {
		if req.Stack == "" || slices.Contains(c.Stacks, req.Stack) {
			withStack = append(withStack, c)
		}
	}
	if len(withStack) == 0 {
		return "insufficient resources: no DEA offers stack " + req.Stack
	}
	var maxMem, maxDisk int64
	memFits := false
	for _, c := range withStack {
		maxMem = max(maxMem, c.MemoryMB)
		if c.MemoryMB >= req.MemoryMB {
			memFits = true
			maxDisk = max(maxDisk, c.DiskMB)
		}
	}
	if !memFits {
		return fmt.Sprintf("insufficient resources: memory (needs %d MB, the most any DEA has free is %d MB)", req.MemoryMB, maxMem)
	}
	return fmt.Sprintf("insufficient resources: disk (needs %d MB, the most any DEA with room for its memory has free is %d MB)", req.DiskMB, maxDisk)
}
