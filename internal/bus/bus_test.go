package bus

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func connect(t *testing.T) (*Embedded, *NATS) {
	t.Helper()
	e, err := StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	b, err := Connect(Options{URL: e.URL(), Name: "test"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return e, b
}

func TestRequestReplyTimeoutAndNoResponders(t *testing.T) {
	_, b := connect(t)
	if _, err := b.Subscribe("echo", "", func(m *Msg) { _ = b.Respond(m, append([]byte("re: "), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe("silent", "", func(*Msg) {}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got, err := b.Request(ctx, "echo", []byte("hi"))
	if err != nil || string(got) != "re: hi" {
		t.Fatalf("Request(echo) = %q, %v", got, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := b.Request(short, "silent", nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Request(silent) = %v, want ErrTimeout", err)
	}
	if _, err := b.Request(ctx, "nobody", nil); !errors.Is(err, ErrNoResponders) {
		t.Fatalf("Request(nobody) = %v, want ErrNoResponders", err)
	}
	if err := b.Respond(&Msg{Subject: "x"}, nil); err == nil {
		t.Fatal("Respond without a reply subject succeeded")
	}
}

func TestQueueGroupDeliversOnce(t *testing.T) {
	_, b := connect(t)
	var n atomic.Int32
	for i := 0; i < 3; i++ {
		if _, err := b.Subscribe("work", "q", func(*Msg) { n.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	var all atomic.Int32
	sub, err := b.Subscribe("work", "", func(*Msg) { all.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := b.PublishJSON("work", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for (n.Load() < 10 || all.Load() < 10) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n.Load() != 10 || all.Load() != 10 {
		t.Fatalf("queue group got %d, plain subscriber %d; want 10 and 10", n.Load(), all.Load())
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishJSON("work", func() {}); err == nil {
		t.Fatal("PublishJSON of an unmarshalable value succeeded")
	}
}

func TestReconnectHooksRun(t *testing.T) {
	e, b := connect(t)
	addr := e.srv.Addr().String()
	ran := make(chan struct{}, 1)
	b.OnReconnect(func() { ran <- struct{}{} })
	e.Shutdown()
	deadline := time.Now().Add(5 * time.Second)
	for b.Connected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b.Connected() {
		t.Fatal("still connected after the server stopped")
	}
	e2, err := StartEmbedded(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e2.Shutdown)
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("reconnect hook did not run")
	}
}

func TestStartEmbeddedRejectsBadAddress(t *testing.T) {
	for _, addr := range []string{"nohost", "127.0.0.1:notaport"} {
		if _, err := StartEmbedded(addr); err == nil {
			t.Errorf("StartEmbedded(%q) succeeded", addr)
		}
	}
	if _, err := Connect(Options{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("Connect without a URL succeeded")
	}
}
