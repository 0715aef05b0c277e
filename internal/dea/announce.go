package dea

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// advertise publishes the DEA's free capacity.
func (d *DEA) advertise() {
	d.mu.Lock()
	if d.shutting {
		d.mu.Unlock()
		return
	}
	mem, disk := d.availableLocked()
	counts := map[string]int{}
	for _, in := range d.instances {
		if in.state == messages.StateStarting || in.state == messages.StateRunning {
			counts[in.msg.AppGUID]++
		}
	}
	d.mu.Unlock()
	expires := int((5 * d.cfg.AdvertiseInterval).Seconds())
	d.publish(bus.SubjectDEAAdvertise, &messages.DEAAdvertise{
		ID:                d.id,
		Host:              d.cfg.Host,
		Stacks:            d.cfg.Stacks,
		Zone:              d.cfg.Zone,
		AvailableMemoryMB: mem,
		AvailableDiskMB:   disk,
		AppIDToCount:      counts,
		ExpiresInSeconds:  max(expires, 1),
	})
}

// heartbeat publishes a full heartbeat: every starting and running
// instance, and crashed ones not yet reported in a full heartbeat.
func (d *DEA) heartbeat() {
	d.mu.Lock()
	var list []*instance
	for _, in := range d.instances {
		switch {
		case in.stopping():
		case in.state == messages.StateStarting, in.state == messages.StateRunning:
			list = append(list, in)
		case in.state == messages.StateCrashed:
			list = append(list, in)
		}
	}
	d.mu.Unlock()
	slices.SortFunc(list, func(a, b *instance) int {
		if a.msg.AppGUID != b.msg.AppGUID {
			if a.msg.AppGUID < b.msg.AppGUID {
				return -1
			}
			return 1
		}
		return a.msg.Index - b.msg.Index
	})
	hb := &messages.Heartbeat{DEA: d.id, Instances: make([]messages.InstanceHeartbeat, 0, len(list))}
	for _, in := range list {
		hb.Instances = append(hb.Instances, d.instanceHeartbeat(in))
	}
	d.publish(bus.SubjectDEAHeartbeat, hb)
	// Crashed instances have been reported; forget them.
	d.mu.Lock()
	for _, in := range list {
		if in.state == messages.StateCrashed && d.instances[in.msg.InstanceGUID] == in {
			delete(d.instances, in.msg.InstanceGUID)
		}
	}
	d.mu.Unlock()
}

// partialHeartbeat publishes one instance's state at once.
func (d *DEA) partialHeartbeat(in *instance) {
	d.publish(bus.SubjectDEAHeartbeat, &messages.Heartbeat{
		DEA:       d.id,
		Instances: []messages.InstanceHeartbeat{d.instanceHeartbeat(in)},
		Partial:   true,
	})
}

// instanceHeartbeat samples usage and describes the instance.
func (d *DEA) instanceHeartbeat(in *instance) messages.InstanceHeartbeat {
	d.mu.Lock()
	c := in.container
	d.mu.Unlock()
	if c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		info, err := c.Info(ctx)
		cancel()
		if err == nil {
			now := time.Now()
			d.mu.Lock()
			cpu := in.usage.CPU
			if !in.cpuAt.IsZero() {
				if dt := now.Sub(in.cpuAt); dt > 0 && info.Usage.CPUTime >= in.cpuTime {
					cpu = float64(info.Usage.CPUTime-in.cpuTime) / float64(dt)
				}
			}
			in.cpuTime, in.cpuAt = info.Usage.CPUTime, now
			in.usage = messages.InstanceUsage{CPU: cpu, MemoryBytes: info.Usage.MemoryBytes, DiskBytes: info.Usage.DiskBytes, Time: now.UTC()}
			d.mu.Unlock()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	state := in.state
	if in.evacuating && (state == messages.StateStarting || state == messages.StateRunning) {
		state = messages.StateEvacuating
	}
	return messages.InstanceHeartbeat{
		AppGUID:        in.msg.AppGUID,
		ProcessType:    procType(&in.msg),
		Version:        in.msg.Version,
		InstanceGUID:   in.msg.InstanceGUID,
		Index:          in.msg.Index,
		State:          state,
		StateTimestamp: float64(in.stateAt.UnixNano()) / 1e9,
		Host:           d.cfg.Host,
		Port:           int(in.port),
		MemQuota:       uint64(in.msg.MemoryMB) << 20,
		DiskQuota:      uint64(in.msg.DiskMB) << 20,
		FDSQuota:       uint64(max(in.msg.FileDescriptors, 0)),
		Usage:          in.usage,
		StartedAt:      in.startedAt.UTC(),
		Details:        in.details,
	}
}

// routeMsgLocked is the gorouter registration of in for uris (DEA.mu held).
func (d *DEA) routeMsgLocked(in *instance, uris []string) *messages.RouterRegister {
	return &messages.RouterRegister{
		Host:                 d.cfg.Host,
		Port:                 uint16(in.port),
		URIs:                 append([]string(nil), uris...),
		App:                  in.msg.AppGUID,
		PrivateInstanceID:    in.msg.InstanceGUID,
		PrivateInstanceIndex: strconv.Itoa(in.msg.Index),
		Tags:                 map[string]string{"component": "dea-" + d.id},
	}
}

// register announces a running instance's routes.
func (d *DEA) register(in *instance) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if in.state != messages.StateRunning || in.stopping() || len(in.uris) == 0 || in.port == 0 {
		return
	}
	in.registered = true
	d.publish(bus.SubjectRouterRegister, d.routeMsgLocked(in, in.uris))
}

// unregister withdraws an instance's routes, once.
func (d *DEA) unregister(in *instance) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !in.registered {
		return
	}
	in.registered = false
	d.publish(bus.SubjectRouterUnregister, d.routeMsgLocked(in, in.uris))
}

// registerAll re-registers every running instance.
func (d *DEA) registerAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, in := range d.instances {
		if in.registered && !in.stopping() {
			d.publish(bus.SubjectRouterRegister, d.routeMsgLocked(in, in.uris))
		}
	}
}
