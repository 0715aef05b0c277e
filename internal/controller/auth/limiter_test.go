package auth

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }
func (l *limiter) takeUser(k string) bool {
	ok, _ := l.take(k, l.cfg.PerUserBurst, l.cfg.PerUserRate)
	return ok
}
func (l *limiter) takeIP(k string) (bool, time.Duration) {
	return l.take(k, l.cfg.PerIPBurst, l.cfg.PerIPRate)
}

func TestTokenBucketRefills(t *testing.T) {
	clk := newClock()
	l := newLimiter(LimitConfig{PerIPBurst: 3, PerIPRate: 0.5}, clk.now)
	for i := 0; i < 3; i++ {
		if ok, _ := l.takeIP("ip:a"); !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
	}
	ok, wait := l.takeIP("ip:a")
	if ok || wait != 2*time.Second {
		t.Fatalf("4th attempt: %v, wait %v; want refused for 2s", ok, wait)
	}
	if ok, _ := l.takeIP("ip:b"); !ok {
		t.Fatal("another address was refused")
	}
	clk.add(2 * time.Second)
	if ok, _ := l.takeIP("ip:a"); !ok {
		t.Fatal("not refilled after 2s")
	}
}

func TestLockoutAfterConsecutiveFailures(t *testing.T) {
	clk := newClock()
	l := newLimiter(LimitConfig{LockoutAfter: 3, LockoutPeriod: time.Minute}, clk.now)
	l.fail("user:a")
	l.fail("user:a")
	l.succeed("user:a") // a success resets the count
	if l.fail("user:a") || l.fail("user:a") {
		t.Fatal("locked before 3 consecutive failures")
	}
	if !l.fail("user:a") {
		t.Fatal("not locked after 3 consecutive failures")
	}
	if d := l.lockedFor("user:a"); d != time.Minute {
		t.Fatalf("locked for %v", d)
	}
	clk.add(time.Minute)
	if d := l.lockedFor("user:a"); d != 0 {
		t.Fatalf("still locked after the period: %v", d)
	}
	// The count starts again after a lockout ends.
	if l.fail("user:a") {
		t.Fatal("locked again by one failure")
	}
}

func TestLimiterIsBoundedAndKeepsLockouts(t *testing.T) {
	clk := newClock()
	l := newLimiter(LimitConfig{MaxEntries: 100, LockoutAfter: 1, LockoutPeriod: time.Hour}, clk.now)
	l.fail("user:victim-of-guessing")
	for i := 0; i < 10000; i++ {
		l.takeUser(fmt.Sprintf("user:%d", i))
	}
	if n := l.size(); n > 100 {
		t.Fatalf("limiter holds %d entries, cap 100", n)
	}
	// Churning names does not evict a lockout.
	if l.lockedFor("user:victim-of-guessing") == 0 {
		t.Fatal("lockout evicted by churn")
	}
}

func TestClientAddr(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{"192.0.2.1:5000", "203.0.113.9", nil, "192.0.2.1"},                       // XFF ignored without a trusted proxy
		{"10.1.1.1:5000", "203.0.113.9", nil, "10.1.1.1"},                         // ... even from a private peer
		{"10.1.1.1:5000", "203.0.113.9", proxy, "203.0.113.9"},                    // trusted proxy: its client
		{"10.1.1.1:5000", "1.1.1.1, 203.0.113.9, 10.2.2.2", proxy, "203.0.113.9"}, // right-most untrusted hop
		{"192.0.2.1:5000", "203.0.113.9", proxy, "192.0.2.1"},                     // untrusted peer's XFF ignored
		{"10.1.1.1:5000", "", proxy, "10.1.1.1"},                                  // no XFF
		{"10.1.1.1:5000", "garbage", proxy, "10.1.1.1"},                           // unparsable XFF
		{"[::ffff:192.0.2.1]:5000", "", nil, "192.0.2.1"},                         // v4-mapped
	} {
		r, _ := http.NewRequest("POST", "/oauth/token", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientAddr(r, tc.trusted); got != tc.want {
			t.Errorf("clientAddr(%s, %q, %v) = %s, want %s", tc.remote, tc.xff, tc.trusted, got, tc.want)
		}
	}
}

func BenchmarkLimiterTake(b *testing.B) {
	l := newLimiter(LimitConfig{}, time.Now)
	for i := 0; i < b.N; i++ {
		l.takeUser(fmt.Sprintf("user:%d", i%20000))
	}
}
