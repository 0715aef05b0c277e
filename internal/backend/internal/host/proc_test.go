package host

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	line := "4242 (a (weird) name) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 1 0 123456 1000000 300 18446744073709551615"
	p, err := ParseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid != 4242 || p.PPid != 1 || p.Pgrp != 4242 || p.Comm != "a (weird) name" || p.State != 'S' || p.Utime != 250 || p.Stime != 50 ||
		p.Cutime != 7 || p.Cstime != 3 || p.Start != 123456 || p.RSS != 300*uint64(os.Getpagesize()) {
		t.Errorf("parsed %+v", p)
	}
	if p.CPU() != 3100*time.Millisecond {
		t.Errorf("cpu = %v", p.CPU())
	}
	if p.Zombie() {
		t.Error("state S is a zombie")
	}
	for _, bad := range []string{"", "12 (x", "x (y) S 1 2", "1 (y) S a 1 1 0 -1 0 0 0 0 0 1 1 1 1 20 0 1 0 1 1 1"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) succeeded", bad)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 1 0 0 1 1 1 1 20 0 1 0 1 1 1 1"))
	f.Add([]byte("2 ()) R 1 2 2"))
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = ParseStat(data) })
}

func TestReadStatSelfAndMemTotal(t *testing.T) {
	st, ok := ReadStat(os.Getpid())
	if !ok || st.Pid != os.Getpid() || st.PPid != os.Getppid() || st.Start == 0 || st.Zombie() {
		t.Errorf("ReadStat(self) = %+v, %v", st, ok)
	}
	if m, err := MemTotal(); err != nil || m == 0 {
		t.Errorf("MemTotal = %d, %v", m, err)
	}
}

func TestWait(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{{"exit 0", 0}, {"exit 3", 3}, {"kill -9 $$", 137}, {"kill -15 $$", 143}} {
		cmd := exec.Command("sh", "-c", tc.script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if got, err := Wait(cmd); got != tc.want || err != nil {
			t.Errorf("Wait(%q) = %d, %v; want %d", tc.script, got, err, tc.want)
		}
	}
	if got, err := Wait(exec.Command("true")); got != -1 || err == nil {
		t.Errorf("Wait of an unstarted command = %d, %v; want -1 and an error", got, err)
	}
}
