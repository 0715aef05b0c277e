package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// median of the samples' field.
func median[T int64 | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type summary struct {
	rps      float64
	p50, p99 time.Duration
	cpu      time.Duration
	errors   int64
}

func summarize(ss []sample) summary {
	var rps []float64
	var p50, p99, cpu []time.Duration
	var errs int64
	for _, s := range ss {
		rps = append(rps, s.rps)
		p50 = append(p50, s.p50)
		p99 = append(p99, s.p99)
		cpu = append(cpu, s.cpuPerReq)
		errs += s.errors
	}
	return summary{rps: median(rps), p50: median(p50), p99: median(p99), cpu: median(cpu), errors: errs}
}

func printTable(targets []target, conns []int, samples map[string][]sample) {
	fmt.Printf("\nmedians of %d round(s)\n", len(samples[targets[0].name+"/"+strconv.Itoa(conns[0])]))
	fmt.Printf("%-5s %-9s %10s %9s %9s %12s %9s %9s %s\n", "conns", "target", "req/s", "p50", "p99", "cpu µs/req", "×direct", "×nginx", "errors")
	for _, c := range conns {
		sum := map[string]summary{}
		for _, t := range targets {
			sum[t.name] = summarize(samples[t.name+"/"+strconv.Itoa(c)])
		}
		for _, t := range targets {
			s := sum[t.name]
			fmt.Printf("c%-4d %-9s %10.0f %9s %9s %12s %9s %9s %d\n", c, t.name, s.rps, fmtDur(s.p50), fmtDur(s.p99),
				fmtCPU(s.cpu), ratio(s.rps, sum, "direct"), ratio(s.rps, sum, "nginx"), s.errors)
		}
	}
}

func ratio(rps float64, sum map[string]summary, base string) string {
	b, ok := sum[base]
	if !ok || b.rps == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", rps/b.rps)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
}

func fmtCPU(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond))
}

func errNote(s sample) string {
	if s.errors == 0 {
		return ""
	}
	return fmt.Sprintf("  (%d errors)", s.errors)
}
