package dea

import (
	"context"
	"slices"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/messages"
)

// adopt takes over a leftover instance of a previous run whose app process
// still runs: the snapshot names it (state, port, routes, process id), its
// container is active and still maps the port, and the backend can attach
// to the process (backend.Attacher; it checks the pid is the same process).
// The instance gets its reservation back, its exit is watched, its output
// goes to the app's log again, its routes are registered at once and its
// health is checked as before (a STARTING one from the start). It reports
// whether it adopted l; a leftover it did not is for discard.
func (d *DEA) adopt(ctx context.Context, l *leftover) bool {
	si := l.snap
	if si == nil || l.container == nil || si.ProcessID == "" ||
		(si.State != messages.StateStarting && si.State != messages.StateRunning) {
		return false
	}
	log := d.log.With("app_guid", l.appGUID, "instance_guid", l.instanceGUID, "instance_index", l.index)
	at, ok := l.container.(backend.Attacher)
	if !ok {
		log.Info("instance-not-adoptable", "reason", "the backend cannot attach to a running process")
		return false
	}
	info, err := l.container.Info(ctx)
	if err != nil || info.State == "stopped" {
		log.Info("instance-not-adoptable", "reason", "container stopped", "error", err)
		return false
	}
	if !slices.ContainsFunc(info.Ports, func(p backend.PortMapping) bool { return p.HostPort == si.Port }) {
		log.Info("instance-not-adoptable", "reason", "port no longer mapped", "port", si.Port)
		return false
	}
	in := newInstance(&si.Start)
	in.state = si.State
	if !si.StartedAt.IsZero() {
		in.stateAt = si.StartedAt
	}
	in.startedAt = si.StartedAt
	in.port = si.Port
	in.uris = append([]string(nil), si.URIs...)
	in.container = l.container
	in.processID = si.ProcessID
	stdout, stderr := d.appWriter(in, "OUT"), d.appWriter(in, "ERR")
	proc, err := at.Attach(si.ProcessID, backend.ProcessIO{Stdout: stdout, Stderr: stderr})
	if err != nil {
		_ = stdout.Close()
		_ = stderr.Close()
		log.Info("instance-not-adoptable", "reason", "app process gone", "error", err)
		return false
	}
	d.mu.Lock()
	d.instances[in.msg.InstanceGUID] = in
	d.wg.Add(1)
	d.mu.Unlock()
	log.Info("instance-readopted", "state", in.state, "port", in.port, "process", proc.ID(), "up_for", time.Since(in.startedAt).Round(time.Second))
	d.cell(in, "Cell %s restarted and re-adopted instance %s", d.id, in.msg.InstanceGUID)
	go func() {
		defer d.wg.Done()
		exited := d.waitExit(in, proc, stdout, stderr)
		d.finish(in, d.watch(in, l.container, in.port, exited, in.state == messages.StateRunning))
	}()
	return true
}
