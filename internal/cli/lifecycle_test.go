package cli

import (
	"testing"
	"time"

	"github.com/ingot-paas/ingot/pkg/client"
)

func TestCountStates(t *testing.T) {
	now := time.Now()
	since := now.Add(-5 * time.Second)
	st := func(state string, uptime int64) client.InstanceStats {
		return client.InstanceStats{State: state, Uptime: uptime}
	}
	tests := []struct {
		name  string
		stats []client.InstanceStats
		since time.Time
		want  stateCounts
		line  string
	}{
		{"all running", []client.InstanceStats{st("RUNNING", 3), st("RUNNING", 1)}, since,
			stateCounts{total: 2, running: 2}, "2 of 2 instances running"},
		{"an instance from before the restart is not counted", []client.InstanceStats{st("RUNNING", 3600), st("STARTING", 0)}, since,
			stateCounts{total: 2, starting: 2}, "0 of 2 instances running, 2 starting"},
		{"no restart time: uptime ignored", []client.InstanceStats{st("RUNNING", 3600)}, time.Time{},
			stateCounts{total: 1, running: 1}, "1 of 1 instances running"},
		{"mixed", []client.InstanceStats{st("RUNNING", 1), st("CRASHED", 0), st("DOWN", 0), st("", 0)}, since,
			stateCounts{total: 4, running: 1, crashed: 1, down: 2}, "1 of 4 instances running, 1 crashed, 2 down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := countStates(tt.stats, tt.since, now)
			if got != tt.want {
				t.Errorf("counts = %+v, want %+v", got, tt.want)
			}
			if got.String() != tt.line {
				t.Errorf("line = %q, want %q", got.String(), tt.line)
			}
		})
	}
}

func TestRouteURL(t *testing.T) {
	tests := []struct{ route, router, want string }{
		{"web.apps.test", "", "http://web.apps.test"},
		{"web.apps.test/docs", "http://127.0.0.1:8081", "http://web.apps.test:8081/docs"},
		{"web.apps.test", "https://router.example.com", "https://web.apps.test"},
		{"web.apps.test", "https://x:443", "https://web.apps.test"},
		{"web.apps.test", "127.0.0.1:9000", "http://web.apps.test:9000"},
	}
	for _, tt := range tests {
		if got := routeURL(tt.route, tt.router); got != tt.want {
			t.Errorf("routeURL(%q, %q) = %q, want %q", tt.route, tt.router, got, tt.want)
		}
	}
}
