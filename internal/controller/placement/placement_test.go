package placement

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestChoose(t *testing.T) {
	tests := []struct {
		name  string
		cands []Candidate
		req   Request
		// allowed is every DEA id the choice may land on; empty = none.
		allowed []string
	}{
		{
			name:  "no candidates",
			req:   Request{MemoryMB: 256, DiskMB: 1024},
			cands: nil,
		},
		{
			name: "stack filter",
			req:  Request{Stack: "host", MemoryMB: 256, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a", Stacks: []string{"cflinuxfs4"}, MemoryMB: 8192, DiskMB: 8192},
				{ID: "b", Stacks: []string{"host"}, MemoryMB: 1024, DiskMB: 8192},
			},
			allowed: []string{"b"},
		},
		{
			name: "empty stack accepts any",
			req:  Request{MemoryMB: 256, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a", Stacks: []string{"x"}, MemoryMB: 4096, DiskMB: 8192},
			},
			allowed: []string{"a"},
		},
		{
			name: "memory must fit",
			req:  Request{MemoryMB: 2048, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a", MemoryMB: 1024, DiskMB: 8192},
				{ID: "b", MemoryMB: 2048, DiskMB: 8192},
			},
			allowed: []string{"b"},
		},
		{
			name: "disk must fit",
			req:  Request{MemoryMB: 256, DiskMB: 4096},
			cands: []Candidate{
				{ID: "a", MemoryMB: 8192, DiskMB: 1024},
				{ID: "b", MemoryMB: 512, DiskMB: 4096},
			},
			allowed: []string{"b"},
		},
		{
			name: "nothing fits",
			req:  Request{MemoryMB: 16384, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a", MemoryMB: 8192, DiskMB: 8192},
			},
		},
		{
			name: "zone with fewest instances wins over free memory",
			req:  Request{MemoryMB: 256, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a1", Zone: "z1", MemoryMB: 16384, DiskMB: 8192, AppCount: 0},
				{ID: "a2", Zone: "z1", MemoryMB: 16384, DiskMB: 8192, AppCount: 2},
				{ID: "b1", Zone: "z2", MemoryMB: 1024, DiskMB: 8192, AppCount: 1},
			},
			allowed: []string{"b1"},
		},
		{
			name: "empty zone is the default zone",
			req:  Request{MemoryMB: 256, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a", Zone: "", MemoryMB: 4096, DiskMB: 8192, AppCount: 1},
				{ID: "b", Zone: "default", MemoryMB: 4096, DiskMB: 8192, AppCount: 1},
				{ID: "c", Zone: "other", MemoryMB: 1024, DiskMB: 8192, AppCount: 1},
			},
			allowed: []string{"c"},
		},
		{
			name: "anti-affinity within a zone",
			req:  Request{MemoryMB: 256, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a", MemoryMB: 16384, DiskMB: 8192, AppCount: 1},
				{ID: "b", MemoryMB: 1024, DiskMB: 8192, AppCount: 0},
			},
			allowed: []string{"b"},
		},
		{
			name: "upper half by memory",
			req:  Request{MemoryMB: 256, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a", MemoryMB: 1000, DiskMB: 8192},
				{ID: "b", MemoryMB: 2000, DiskMB: 8192},
				{ID: "c", MemoryMB: 3000, DiskMB: 8192},
				{ID: "d", MemoryMB: 4000, DiskMB: 8192},
			},
			allowed: []string{"c", "d"},
		},
		{
			name: "ties at the cut are kept",
			req:  Request{MemoryMB: 256, DiskMB: 1024},
			cands: []Candidate{
				{ID: "a", MemoryMB: 4000, DiskMB: 8192},
				{ID: "b", MemoryMB: 4000, DiskMB: 8192},
				{ID: "c", MemoryMB: 4000, DiskMB: 8192},
				{ID: "d", MemoryMB: 1000, DiskMB: 8192},
			},
			allowed: []string{"a", "b", "c"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for seed := uint64(0); seed < 64; seed++ {
				rnd := rand.New(rand.NewPCG(seed, 7))
				got, ok := Choose(tc.cands, tc.req, rnd)
				if len(tc.allowed) == 0 {
					if ok {
						t.Fatalf("chose %q, want no placement", got.ID)
					}
					return
				}
				if !ok {
					t.Fatalf("no placement, want one of %v", tc.allowed)
				}
				if !slices.Contains(tc.allowed, got.ID) {
					t.Fatalf("chose %q, want one of %v", got.ID, tc.allowed)
				}
				seen[got.ID] = true
			}
			// Random among equals: over many seeds every allowed DEA is used.
			var ids []string
			for id := range seen {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			want := append([]string(nil), tc.allowed...)
			sort.Strings(want)
			if !slices.Equal(ids, want) {
				t.Fatalf("over 64 seeds chose %v, want all of %v", ids, want)
			}
		})
	}
}

func TestChooseStager(t *testing.T) {
	var cands []Candidate
	for i, mem := range []int64{100, 200, 300, 400, 500, 600, 700, 800} {
		cands = append(cands, Candidate{ID: string(rune('a' + i)), Stacks: []string{"host"}, MemoryMB: mem * 10, DiskMB: 10000})
	}
	cands = append(cands, Candidate{ID: "other-stack", Stacks: []string{"windows"}, MemoryMB: 99999, DiskMB: 99999})
	allowed := []string{"d", "e", "f", "g", "h"} // the five roomiest with the stack
	seen := map[string]bool{}
	for seed := uint64(0); seed < 200; seed++ {
		got, ok := ChooseStager(cands, Request{Stack: "host", MemoryMB: 1024, DiskMB: 4096}, rand.New(rand.NewPCG(seed, 1)))
		if !ok {
			t.Fatal("no stager chosen")
		}
		if !slices.Contains(allowed, got.ID) {
			t.Fatalf("chose %q, want one of %v", got.ID, allowed)
		}
		seen[got.ID] = true
	}
	if len(seen) != len(allowed) {
		t.Fatalf("chose only %v over 200 seeds", seen)
	}
	if _, ok := ChooseStager(cands, Request{Stack: "host", MemoryMB: 100000}, rand.New(rand.NewPCG(1, 1))); ok {
		t.Fatal("chose a stager without room")
	}
	if _, ok := ChooseStager(cands, Request{Stack: "nope"}, rand.New(rand.NewPCG(1, 1))); ok {
		t.Fatal("chose a stager without the stack")
	}
}

func TestExplain(t *testing.T) {
	req := Request{Stack: "host", MemoryMB: 1024, DiskMB: 2048}
	cases := []struct {
		name  string
		cands []Candidate
		want  string
	}{
		{"no DEAs", nil, "insufficient resources: no DEA is available"},
		{"no stack", []Candidate{{ID: "a", Stacks: []string{"other"}, MemoryMB: 4096, DiskMB: 4096}}, "insufficient resources: no DEA offers stack host"},
		{"memory", []Candidate{{ID: "a", Stacks: []string{"host"}, MemoryMB: 512, DiskMB: 4096}, {ID: "b", Stacks: []string{"host"}, MemoryMB: 768, DiskMB: 4096}},
			"insufficient resources: memory (needs 1024 MB, the most any DEA has free is 768 MB)"},
		{"disk", []Candidate{{ID: "a", Stacks: []string{"host"}, MemoryMB: 4096, DiskMB: 1000}},
			"insufficient resources: disk (needs 2048 MB, the most any DEA with room for its memory has free is 1000 MB)"},
	}
	for _, tc := range cases {
		if got := Explain(tc.cands, req); got != tc.want {
			t.Errorf("%s: Explain = %q, want %q", tc.name, got, tc.want)
		}
	}
}
