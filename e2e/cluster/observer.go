package cluster

import (
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// maxExits bounds the droplet.exited messages an observer keeps.
const maxExits = 10000

// Instance is one app instance as the DEAs' heartbeats report it.
type Instance struct {
	DEA   string // DEA id
	App   string // app guid
	GUID  string // instance guid
	Index int
	State string
	Host  string
	Port  int
	// Seen is when the observer last heard of the instance.
	Seen time.Time
}

// Exit is one droplet.exited message and when the observer got it.
type Exit struct {
	At time.Time
	messages.DropletExited
}

type deaView struct {
	lastHeard time.Time
	instances map[string]Instance
}

// observer listens to the bus like the health manager does: heartbeats
// and exits, so tests can tell which DEA runs which instance.
type observer struct {
	b    *bus.NATS
	subs []bus.Subscription

	mu    sync.Mutex
	deas  map[string]*deaView
	exits []Exit
}

func newObserver(natsURL string) (*observer, error) {
	b, err := bus.Connect(bus.Options{URL: natsURL, Name: "e2e-observer"}, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	o := &observer{b: b, deas: map[string]*deaView{}}
	for subj, h := range map[string]bus.Handler{
		bus.SubjectDEAHeartbeat:  o.onHeartbeat,
		bus.SubjectDropletExited: o.onExited,
	} {
		s, err := b.Subscribe(subj, "", h)
		if err != nil {
			b.Close()
			return nil, err
		}
		o.subs = append(o.subs, s)
	}
	return o, nil
}

func (o *observer) close() {
	for _, s := range o.subs {
		_ = s.Unsubscribe()
	}
	o.b.Close()
}

func (o *observer) onHeartbeat(m *bus.Msg) {
	var hb messages.Heartbeat
	if json.Unmarshal(m.Data, &hb) != nil || hb.DEA == "" {
		return
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	d := o.deas[hb.DEA]
	if d == nil {
		d = &deaView{instances: map[string]Instance{}}
		o.deas[hb.DEA] = d
	}
	d.lastHeard = now
	if !hb.Partial {
		d.instances = map[string]Instance{}
	}
	for _, in := range hb.Instances {
		d.instances[in.InstanceGUID] = Instance{
			DEA: hb.DEA, App: in.AppGUID, GUID: in.InstanceGUID, Index: in.Index,
			State: in.State, Host: in.Host, Port: in.Port, Seen: now,
		}
	}
}

func (o *observer) onExited(m *bus.Msg) {
	var ex messages.DropletExited
	if json.Unmarshal(m.Data, &ex) != nil {
		return
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range o.deas {
		delete(d.instances, ex.InstanceGUID)
	}
	if len(o.exits) >= maxExits {
		o.exits = o.exits[1:]
	}
	o.exits = append(o.exits, Exit{At: now, DropletExited: ex})
}

// instances returns the app's instances reported by DEAs heard within
// fresh (0: any), sorted by index then DEA.
func (o *observer) instances(app string, fresh time.Duration) []Instance {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Instance
	for _, d := range o.deas {
		if fresh > 0 && now.Sub(d.lastHeard) > fresh {
			continue
		}
		for _, in := range d.instances {
			if app == "" || in.App == app {
				out = append(out, in)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].DEA < out[j].DEA
	})
	return out
}

// lastHeard is when the DEA last heartbeated (zero: never).
func (o *observer) lastHeard(dea string) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d := o.deas[dea]; d != nil {
		return d.lastHeard
	}
	return time.Time{}
}

func (o *observer) exitsOf(app string) []Exit {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Exit
	for _, e := range o.exits {
		if app == "" || e.AppGUID == app {
			out = append(out, e)
		}
	}
	return out
}
