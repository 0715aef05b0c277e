package logs

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
)

func TestEmitterWriterToStoreOverTheBus(t *testing.T) {
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	log := slog.New(slog.DiscardHandler)
	b, err := bus.Connect(bus.Options{URL: e.URL()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	store := NewStore(Config{})
	col, err := Collect(b, store, log)
	if err != nil {
		t.Fatal(err)
	}
	defer col.Stop()

	em := NewEmitter(b, log)
	w := em.Writer("app-1", "APP/PROC/WEB", "2", "ERR")
	long := strings.Repeat("x", 70<<10)
	if _, err := w.Write([]byte("first line\r\nsecond ")); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("line\n" + long + "\npartial"))
	w.Close()
	// A line that fails validation is dropped by the collector.
	b.PublishJSON(bus.LogSubject("app-1"), map[string]string{"app_guid": "app-1", "stream": "SIDEWAYS"})

	deadline := time.Now().Add(5 * time.Second)
	for len(store.Read("app-1", Query{Limit: 1000})) < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := store.Read("app-1", Query{Limit: 1000})
	var msgs []string
	for _, l := range got {
		if l.Stream != "ERR" || l.SourceType != "APP/PROC/WEB" || l.InstanceID != "2" {
			t.Errorf("line has wrong tags: %+v", l)
		}
		if len(l.Message) > 64<<10 {
			t.Errorf("line of %d bytes exceeds 64 KiB", len(l.Message))
		}
		msgs = append(msgs, l.Message[:min(len(l.Message), 12)])
	}
	want := []string{"first line", "second line", "xxxxxxxxxxxx", "xxxxxxxxxxxx", "partial"}
	if len(msgs) != len(want) {
		t.Fatalf("got lines %q, want %q", msgs, want)
	}
	for i := range want {
		if msgs[i] != want[i] {
			t.Fatalf("got lines %q, want %q", msgs, want)
		}
	}
}

func TestNilEmitterIsSafe(t *testing.T) {
	var e *Emitter
	e.Emit("app", "API", "0", "OUT", "ignored")
}
