package process

import (
	"os"
	"testing"
)

func TestParsePSS(t *testing.T) {
	data := []byte("55d0c0a6d000-7ffd4a5f3000 ---p 00000000 00:00 0  [rollup]\nRss:               12345 kB\nPss:                2048 kB\nPss_Anon:           1000 kB\n")
	got, ok := parsePSS(data)
	if !ok || got != 2048*1024 {
		t.Fatalf("parsePSS = %d, %v; want %d", got, ok, 2048*1024)
	}
	if _, ok := parsePSS([]byte("Rss: 1 kB\n")); ok {
		t.Fatal("parsePSS found a Pss line where there is none")
	}
	if pss, ok := readPSS(os.Getpid()); !ok || pss == 0 {
		t.Fatalf("readPSS(self) = %d, %v", pss, ok)
	}
}
