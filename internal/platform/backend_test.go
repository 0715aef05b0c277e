package platform

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/ingot-paas/ingot/internal/backend/runc"
)

func TestValidBackend(t *testing.T) {
	for _, tc := range []struct {
		kind string
		ok   bool
	}{
		{"", true}, {"auto", true}, {"runc", true}, {"process", true},
		{"docker", false}, {"RUNC", false}, {" runc", false},
	} {
		err := validBackend(tc.kind)
		if (err == nil) != tc.ok {
			t.Errorf("validBackend(%q) = %v, want ok=%v", tc.kind, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadBackend) {
			t.Errorf("validBackend(%q) = %v, want ErrBadBackend", tc.kind, err)
		}
	}
}

func TestRuncUIDBaseDisjointAndStable(t *testing.T) {
	a, b := runcUIDBase("/var/lib/ingot/dea-0"), runcUIDBase("/var/lib/ingot/dea-1")
	if a == b {
		t.Fatalf("two data dirs got the same uid base %d", a)
	}
	if a != runcUIDBase("/var/lib/ingot/dea-0") {
		t.Fatal("the uid base of a data dir changed between calls")
	}
	for _, u := range []uint32{a, b} {
		if u < 100000 || u+4096 > 1<<31 || (u-100000)%4096 != 0 {
			t.Errorf("uid base %d outside the 4096-aligned ranges from 100000", u)
		}
	}
}

func TestNewBackendChoices(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	t.Run("process and empty give the process backend", func(t *testing.T) {
		for _, kind := range []string{"", BackendProcess} {
			be, choice, err := newBackend(kind, DEAOptions{DataDir: t.TempDir()}, log)
			if err != nil {
				t.Fatal(err)
			}
			be.Close()
			if choice.Kind != BackendProcess || be.Name() != "process" || choice.Reason == "" {
				t.Errorf("kind %q: choice %+v, backend %s", kind, choice, be.Name())
			}
		}
	})
	t.Run("unknown kind fails", func(t *testing.T) {
		if _, _, err := newBackend("lxc", DEAOptions{DataDir: t.TempDir()}, log); !errors.Is(err, ErrBadBackend) {
			t.Fatalf("err = %v, want ErrBadBackend", err)
		}
	})
	t.Run("runc with a missing binary fails naming the fix, auto falls back", func(t *testing.T) {
		o := DEAOptions{DataDir: t.TempDir(), RuncPath: filepath.Join(t.TempDir(), "no-runc")}
		if _, _, err := newBackend(BackendRunc, o, log); !errors.Is(err, runc.ErrUnavailable) {
			t.Fatalf("runc with a missing binary: err = %v, want runc.ErrUnavailable", err)
		}
		be, choice, err := newBackend(BackendAuto, o, log)
		if err != nil {
			t.Fatal(err)
		}
		be.Close()
		if choice.Kind != BackendProcess {
			t.Fatalf("auto without runc chose %+v", choice)
		}
	})
	t.Run("auto picks runc where it works", func(t *testing.T) {
		if err := runc.Available(""); err != nil {
			t.Skipf("runc backend unavailable: %v", err)
		}
		if os.Geteuid() != 0 {
			t.Skip("needs root")
		}
		be, choice, err := newBackend(BackendAuto, DEAOptions{DataDir: t.TempDir()}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer be.Close()
		if choice.Kind != BackendRunc || be.Name() != "runc" {
			t.Fatalf("auto chose %+v (%s), want runc", choice, be.Name())
		}
	})
}
