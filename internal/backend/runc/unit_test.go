//go:build linux

package runc

import (
	"errors"
	"testing"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

func TestBindProgramJumpsToAllow(t *testing.T) {
	for _, allowed := range [][]uint32{nil, {61001}, {61001, 61002, 64999}} {
		prog := bindProgram(61001, 65000, allowed)
		allow := len(prog) - 2
		if prog[allow].code != 0xb7 || prog[allow].imm != 1 || prog[allow-2].imm != 0 {
			t.Fatalf("program tail = %+v", prog[len(prog)-4:])
		}
		checks := prog[2 : 4+len(allowed)]
		for i, in := range checks {
			if target := 2 + i + 1 + int(in.off); target != allow {
				t.Errorf("allowed %v: check %d jumps to %d, want %d", allowed, i, target, allow)
			}
		}
		for i, p := range allowed {
			if checks[2+i].imm != int32(p) {
				t.Errorf("check %d compares with %d, want %d", 2+i, checks[2+i].imm, p)
			}
		}
	}
}

func TestResolve(t *testing.T) {
	c := &container{rec: record{Record: host.Record{Handle: "h"}}}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/home/vcap", "home", true},
		{"/home/vcap/app/x", "home/app/x", true},
		{"app", "home/app", true},
		{"/tmp", "tmp", true},
		{"/tmp/a/../b", "tmp/b", true},
		{"/home/vcap/../vcap2", "", false},
		{"../..", "", false},
		{"/etc", "", false},
		{"/tmpx", "", false},
		{"", "", false},
	} {
		got, err := c.resolve(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("resolve(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, backend.ErrInvalidPath) {
			t.Errorf("resolve(%q) error %v is not ErrInvalidPath", tc.in, err)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/a\040b\134c`); got != `/a b\c` {
		t.Errorf("unescapeMount = %q", got)
	}
}

func TestGatedWriter(t *testing.T) {
	var out syncBuffer
	g := &gatedWriter{w: &out}
	_, _ = g.Write([]byte("held "))
	if out.String() != "" || g.held() != "held" {
		t.Fatalf("before opening: out %q, held %q", out.String(), g.held())
	}
	g.openGate()
	_, _ = g.Write([]byte("through"))
	if out.String() != "held through" {
		t.Errorf("out = %q", out.String())
	}
	nilGate := &gatedWriter{}
	nilGate.openGate()
	if n, err := nilGate.Write([]byte("x")); n != 1 || err != nil {
		t.Errorf("discarding write = %d, %v", n, err)
	}
}
