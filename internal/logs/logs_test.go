package logs

import (
	"fmt"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

func line(app string, ts int64, msg string) messages.LogLine {
	return messages.LogLine{AppGUID: app, SourceType: "APP/PROC/WEB", InstanceID: "0", Message: msg, Stream: "OUT", Timestamp: ts}
}

func messagesOf(ls []messages.LogLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Message
	}
	return out
}

func TestRingKeepsTheNewestLines(t *testing.T) {
	s := NewStore(Config{LinesPerApp: 3})
	for i := 1; i <= 5; i++ {
		s.Append(line("a", int64(i), fmt.Sprint(i)))
	}
	got := messagesOf(s.Read("a", Query{}))
	if fmt.Sprint(got) != "[3 4 5]" {
		t.Fatalf("lines = %v, want [3 4 5]", got)
	}
	got = messagesOf(s.Read("a", Query{Descending: true, Limit: 2}))
	if fmt.Sprint(got) != "[5 4]" {
		t.Fatalf("descending limit 2 = %v, want [5 4]", got)
	}
}

func TestReadBoundsByTime(t *testing.T) {
	s := NewStore(Config{})
	for i := 1; i <= 10; i++ {
		s.Append(line("a", int64(i*10), fmt.Sprint(i)))
	}
	cases := []struct {
		q    Query
		want string
	}{
		{Query{StartTime: 35}, "[4 5 6 7 8 9 10]"},
		{Query{StartTime: 35, EndTime: 70}, "[4 5 6]"},
		{Query{StartTime: -6795364578871345152, Limit: 2}, "[1 2]"},
		{Query{StartTime: 35, Descending: true, Limit: 2}, "[10 9]"},
		{Query{StartTime: 1000}, "[]"},
		{Query{StartTime: 50, EndTime: 20}, "[]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(messagesOf(s.Read("a", c.q))); got != c.want {
			t.Errorf("Read(%+v) = %s, want %s", c.q, got, c.want)
		}
	}
	if got := s.Read("unknown", Query{}); len(got) != 0 {
		t.Errorf("unknown app has lines: %v", got)
	}
}

func TestTimestampsStrictlyIncrease(t *testing.T) {
	s := NewStore(Config{})
	s.Append(line("a", 100, "x"))
	s.Append(line("a", 100, "y"))
	s.Append(line("a", 50, "z"))
	ls := s.Read("a", Query{})
	for i := 1; i < len(ls); i++ {
		if ls[i].Timestamp <= ls[i-1].Timestamp {
			t.Fatalf("timestamps not increasing: %v", ls)
		}
	}
	// A reader paging from the last timestamp + 1 sees nothing twice.
	if got := s.Read("a", Query{StartTime: ls[1].Timestamp + 1}); len(got) != 1 || got[0].Message != "z" {
		t.Fatalf("paging after the second line = %v", got)
	}
}

func TestEvictsTheLeastRecentlyWrittenApp(t *testing.T) {
	s := NewStore(Config{MaxApps: 2})
	now := time.Unix(0, 0)
	s.now = func() time.Time { now = now.Add(time.Second); return now }
	s.Append(line("a", 1, "a"))
	s.Append(line("b", 1, "b"))
	s.Append(line("a", 2, "a2"))
	s.Append(line("c", 1, "c"))
	if len(s.Read("b", Query{})) != 0 {
		t.Error("app b should have been evicted")
	}
	if len(s.Read("a", Query{})) != 2 || len(s.Read("c", Query{})) != 1 {
		t.Error("apps a and c should keep their lines")
	}
	s.Forget("a")
	if len(s.Read("a", Query{})) != 0 {
		t.Error("Forget kept app a's lines")
	}
}
