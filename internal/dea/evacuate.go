package dea

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// Evacuation (Config.Evacuate) is how a DEA leaves on its own without its
// apps losing a request: when Run's context ends it
//
//  1. takes no more starts or stagings, stops advertising and publishes
//     dea.shutdown with Evacuating, so placement leaves it out;
//  2. reports every starting or running instance EVACUATING and publishes
//     droplet.exited DEA_EVACUATION for it without stopping it: the health
//     manager starts a replacement of that index elsewhere at once, and
//     neither counts the evacuating instance nor stops its replacement;
//  3. keeps heartbeating and registering routes, and watches the other
//     DEAs' heartbeats: as soon as an instance's replacement is RUNNING
//     there, it withdraws the instance's routes, lets the routers catch up
//     (Config.EvacuationDrain) and stops it (SIGTERM, then SIGKILL after the
//     backend's grace);
//  4. after Config.EvacuationTimeout, stops what is left the same way (no
//     other DEA, no room elsewhere, or an app stopped meanwhile), then shuts
//     down as usual.
//
// An evacuated instance's one droplet.exited is the DEA_EVACUATION notice;
// its stop publishes none (full heartbeats no longer list it). A crash
// while evacuating is reported as usual.

// evacuationKey names what a replacement must match: the app's process
// type and index.
type evacuationKey struct {
	app, proc string
	index     int
}

// evacuate runs steps 1 to 4; the caller shuts down afterwards.
func (d *DEA) evacuate() {
	began := time.Now()
	d.mu.Lock()
	d.shutting = true
	var list []*instance
	for _, in := range d.instances {
		if in.stopping() || (in.state != messages.StateStarting && in.state != messages.StateRunning) {
			continue
		}
		in.evacuating = true
		list = append(list, in)
	}
	d.mu.Unlock()
	d.log.Info("dea-evacuating", "instances", len(list), "timeout", d.cfg.EvacuationTimeout)
	d.publish(bus.SubjectDEAShutdown, &messages.DEAShutdown{ID: d.id, Evacuating: true})
	if len(list) == 0 {
		return
	}
	// Heartbeat first, so whoever hears of the exit and asks for a
	// heartbeat finds the instance EVACUATING, not RUNNING.
	d.heartbeat()
	for _, in := range list {
		d.cell(in, "Cell %s evacuating instance %s", d.id, in.msg.InstanceGUID)
		d.publish(bus.SubjectDropletExited, &messages.DropletExited{
			DEA: d.id, AppGUID: in.msg.AppGUID, ProcessType: procType(&in.msg), Version: in.msg.Version,
			InstanceGUID: in.msg.InstanceGUID, Index: in.msg.Index, Reason: messages.ReasonDEAEvacuation,
			ExitStatus: exitNeverRan, ExitDescription: "DEA evacuating: the instance runs until it is replaced",
		})
	}
	d.flush()

	replaced := make(chan struct{}, 1)
	var peerSeen atomic.Bool
	sub, err := d.deps.Bus.Subscribe(bus.SubjectDEAHeartbeat, "", func(m *bus.Msg) {
		var from struct {
			DEA string `json:"dea"`
		}
		if json.Unmarshal(m.Data, &from) == nil && from.DEA != "" && from.DEA != d.id {
			peerSeen.Store(true)
		}
		if d.noteReplacements(m.Data, list, began) {
			select {
			case replaced <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		// Without the heartbeats no replacement can be seen: the timeout
		// decides.
		d.log.Warn("evacuation-subscribe-failed", "error", err)
	} else {
		defer func() { _ = sub.Unsubscribe() }()
	}

	timeout := time.NewTimer(d.cfg.EvacuationTimeout)
	defer timeout.Stop()
	// With no other DEA heartbeating there is nowhere to evacuate to:
	// after a few heartbeat intervals without one, stop at once instead of
	// waiting out the timeout.
	probe := time.NewTimer(min(3*d.cfg.HeartbeatInterval, d.cfg.EvacuationTimeout))
	defer probe.Stop()
	hb := time.NewTicker(d.cfg.HeartbeatInterval)
	defer hb.Stop()
	reg := time.NewTicker(d.registerInterval())
	defer reg.Stop()
	for {
		if d.stopReplaced(list) {
			d.log.Info("dea-evacuated", "instances", len(list), "duration", time.Since(began))
			return
		}
		select {
		case <-replaced:
		case <-hb.C:
			d.heartbeat()
		case <-reg.C:
			d.registerAll()
		case <-d.reconnected:
			d.heartbeat()
			d.registerAll()
		case <-probe.C:
			if peerSeen.Load() {
				continue
			}
			d.log.Warn("dea-evacuation-no-peer", "instances", d.evacuationLeft(list),
				"hint", "no other DEA heartbeats: nowhere to evacuate to; stopping the instances now")
			d.mu.Lock()
			for _, in := range list {
				in.requestStop(messages.ReasonDEAEvacuation)
			}
			d.mu.Unlock()
			return
		case <-timeout.C:
			left := d.evacuationLeft(list)
			d.log.Warn("dea-evacuation-timed-out", "instances_not_replaced", left,
				"hint", "no other DEA ran a replacement in time (none in the pool, no room, or the app stopped); stopping them anyway")
			d.mu.Lock()
			for _, in := range list {
				in.requestStop(messages.ReasonDEAEvacuation)
			}
			d.mu.Unlock()
			return
		}
	}
}

// noteReplacements marks the instances of list that the heartbeat data
// from another DEA shows a RUNNING replacement for: the same app, process
// type and index, of the same version or one that started running after
// the evacuation began.
func (d *DEA) noteReplacements(data []byte, list []*instance, began time.Time) bool {
	var hb messages.Heartbeat
	if err := messages.Decode(data, &hb); err != nil || hb.DEA == d.id {
		return false
	}
	running := map[evacuationKey][]messages.InstanceHeartbeat{}
	for _, in := range hb.Instances {
		if in.State == messages.StateRunning {
			k := evacuationKey{in.AppGUID, procTypeOf(in.ProcessType), in.Index}
			running[k] = append(running[k], in)
		}
	}
	if len(running) == 0 {
		return false
	}
	since := float64(began.UnixNano()) / 1e9
	found := false
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, in := range list {
		if in.replacedBy != "" {
			continue
		}
		for _, r := range running[evacuationKey{in.msg.AppGUID, procType(&in.msg), in.msg.Index}] {
			if r.InstanceGUID != in.msg.InstanceGUID && (r.Version == in.msg.Version || r.StateTimestamp >= since) {
				in.replacedBy = r.InstanceGUID
				found = true
				break
			}
		}
	}
	return found
}

// stopReplaced stops the replaced instances of list and reports whether
// none is left to wait for.
func (d *DEA) stopReplaced(list []*instance) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	done := true
	for _, in := range list {
		if in.replacedBy != "" && in.requestStop(messages.ReasonDEAEvacuation) {
			d.log.Info("instance-replaced", "app_guid", in.msg.AppGUID, "instance_guid", in.msg.InstanceGUID,
				"instance_index", in.msg.Index, "replacement_guid", in.replacedBy)
		}
		if !in.stopping() && (in.state == messages.StateStarting || in.state == messages.StateRunning) {
			done = false
		}
	}
	return done
}

func (d *DEA) evacuationLeft(list []*instance) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, in := range list {
		if !in.stopping() && (in.state == messages.StateStarting || in.state == messages.StateRunning) {
			n++
		}
	}
	return n
}

// drain gives the routers time to drop an instance's routes before it is
// stopped, so requests already on their way finish: the unregistration is
// flushed to the bus, then Config.EvacuationDrain (evacuation) or
// Config.StopDrain (a requested stop, as in a rolling deployment) passes.
// When the DEA itself shuts down without evacuating, nothing waits.
func (d *DEA) drain(in *instance) {
	d.mu.Lock()
	evacuating, reason := in.evacuating, in.stopReason
	d.mu.Unlock()
	pause := d.cfg.StopDrain
	switch {
	case evacuating:
		pause = d.cfg.EvacuationDrain
	case reason == messages.ReasonDEAShutdown:
		return
	}
	if pause <= 0 {
		return
	}
	d.flush()
	time.Sleep(pause)
}

// flush waits (bounded) until the bus has sent what was published.
func (d *DEA) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := d.deps.Bus.Flush(ctx); err != nil {
		d.log.Warn("bus-flush-failed", "error", err)
	}
}

func procTypeOf(t string) string {
	if t == "" {
		return "web"
	}
	return t
}
