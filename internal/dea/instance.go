package dea

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// exitNeverRan is the exit status reported when the app's process never
// started (download, container or start command failures).
const exitNeverRan = -1

// instance is one app instance on this DEA. Fields below mu-guarded are
// guarded by DEA.mu.
type instance struct {
	msg messages.StartInstance // immutable

	ctx    context.Context // cancelled when a stop is requested
	cancel context.CancelFunc
	stopCh chan struct{}

	// guarded by DEA.mu
	state      string
	stateAt    time.Time
	startedAt  time.Time
	port       uint32
	details    string
	uris       []string
	registered bool
	reserved   bool
	stopReason string
	container  backend.Container
	processID  string // the app's process in the container
	reported   bool   // a CRASHED state went out in a full heartbeat
	// evacuating: the DEA is leaving and has reported the instance
	// DEA_EVACUATION; it runs (reported EVACUATING) until replacedBy, the
	// guid of its replacement on another DEA, is set or time runs out.
	evacuating bool
	replacedBy string
	cpuTime    time.Duration
	cpuAt      time.Time
	usage      messages.InstanceUsage
}

func newInstance(msg *messages.StartInstance) *instance {
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	return &instance{
		msg:      *msg,
		ctx:      ctx,
		cancel:   cancel,
		stopCh:   make(chan struct{}),
		state:    messages.StateStarting,
		stateAt:  now,
		uris:     append([]string(nil), msg.URIs...),
		reserved: true,
	}
}

func procType(m *messages.StartInstance) string {
	if m.ProcessType == "" {
		return "web"
	}
	return m.ProcessType
}

// sourceType is the log source of the app's own output.
func (in *instance) sourceType() string { return "APP/PROC/" + strings.ToUpper(procType(&in.msg)) }

// stopping tells whether a stop was requested (DEA.mu held).
func (in *instance) stopping() bool { return in.stopReason != "" }

// requestStop asks the lifecycle to stop with reason (DEA.mu held). It
// returns false when the instance is already stopping or gone.
func (in *instance) requestStop(reason string) bool {
	if in.stopReason != "" || in.state == messages.StateCrashed {
		return false
	}
	in.stopReason = reason
	close(in.stopCh)
	in.cancel()
	return true
}

func (in *instance) matches(f *messages.StopInstances) bool {
	if in.msg.AppGUID != f.AppGUID {
		return false
	}
	if f.Version != "" && in.msg.Version != f.Version {
		return false
	}
	if len(f.InstanceGUIDs) > 0 && !slices.Contains(f.InstanceGUIDs, in.msg.InstanceGUID) {
		return false
	}
	if len(f.Indices) > 0 && !slices.Contains(f.Indices, in.msg.Index) {
		return false
	}
	return true
}

// exit is how an instance ended.
type exit struct {
	reason      string
	status      int
	description string
	ran         bool   // the app's process ran
	note        string // added to the "Exit status" log line
}

// cell writes a lifecycle line to the app's log.
func (d *DEA) cell(in *instance, format string, args ...any) {
	d.deps.Logs.Emit(in.msg.AppGUID, messages.SourceCell, strconv.Itoa(in.msg.Index), "OUT", fmt.Sprintf(format, args...))
}

func (d *DEA) setState(in *instance, state, details string) {
	d.mu.Lock()
	in.state = state
	in.stateAt = time.Now()
	in.details = details
	d.mu.Unlock()
	d.changed(in)
}

// runInstance is the one goroutine of an instance's life.
func (d *DEA) runInstance(in *instance) {
	defer d.wg.Done()
	ex := d.startAndWatch(in)
	d.finish(in, ex)
}

// startAndWatch starts the instance and watches it until it exits or is
// stopped.
func (d *DEA) startAndWatch(in *instance) exit {
	msg := &in.msg
	ctx := in.ctx
	d.cell(in, "Cell %s creating container for instance %s", d.id, msg.InstanceGUID)
	dropletPath, err := d.droplets.get(ctx, msg.DropletURI, msg.DropletDigest)
	if ex, stop := d.stopExit(in); stop {
		return ex
	}
	if err != nil {
		return d.crashBeforeRun(in, "Failed to download droplet: "+err.Error())
	}
	c, err := d.deps.Backend.Create(ctx, backend.ContainerSpec{
		Handle:           msg.InstanceGUID,
		MemoryLimitBytes: uint64(msg.MemoryMB) << 20,
		DiskLimitBytes:   uint64(msg.DiskMB) << 20,
		CPUShares:        uint64(min(max(msg.MemoryMB/8, 1), 256)),
		Properties:       containerProperties(d.id, msg),
	})
	if ex, stop := d.stopExit(in); stop && err != nil {
		return ex
	}
	if err != nil {
		return d.crashBeforeRun(in, "Failed to create container: "+err.Error())
	}
	d.mu.Lock()
	in.container = c
	d.mu.Unlock()
	if err := streamDroplet(ctx, c, dropletPath); err != nil {
		if ex, stop := d.stopExit(in); stop {
			return ex
		}
		return d.crashBeforeRun(in, "Failed to extract droplet: "+err.Error())
	}
	pm, err := c.NetIn(0, 0)
	if err != nil {
		return d.crashBeforeRun(in, "Failed to map a port: "+err.Error())
	}
	d.mu.Lock()
	in.port = pm.HostPort
	d.mu.Unlock()
	command := msg.StartCommand
	if command == "" {
		command, err = readStartCommand(ctx, c)
		if err != nil {
			return d.crashBeforeRun(in, "Failed to read staging_info.yml: "+err.Error())
		}
	}
	if strings.TrimSpace(command) == "" {
		return d.crashBeforeRun(in, "Start command not specified: the start message has none and the droplet's staging_info.yml has no start_command")
	}
	if ex, stop := d.stopExit(in); stop {
		return ex
	}
	d.cell(in, "Cell %s successfully created container for instance %s", d.id, msg.InstanceGUID)

	startedAt := time.Now()
	d.mu.Lock()
	in.startedAt = startedAt
	d.mu.Unlock()
	env := buildEnv(d.cfg.Host, msg, pm, c.HomeDir(), startedAt)
	stdout := d.appWriter(in, "OUT")
	stderr := d.appWriter(in, "ERR")
	// Detached: the app outlives a crash of the DEA, which re-adopts it
	// when it comes back (backends that cannot ignore it).
	proc, err := c.Run(ctx, backend.ProcessSpec{
		Path:     "bash",
		Args:     []string{"-c", startScript(command)},
		Env:      env,
		Dir:      c.HomeDir(),
		Detached: true,
	}, backend.ProcessIO{Stdout: stdout, Stderr: stderr})
	if err != nil {
		_ = stdout.Close()
		_ = stderr.Close()
		if ex, stop := d.stopExit(in); stop {
			return ex
		}
		return d.crashBeforeRun(in, "Failed to start the app process: "+err.Error())
	}
	d.mu.Lock()
	in.processID = proc.ID()
	d.mu.Unlock()
	d.saveSnapshot() // a restarted DEA finds the process by its id
	return d.watch(in, c, pm.HostPort, d.waitExit(in, proc, stdout, stderr), false)
}

// waitExit delivers the app process's exit status once its output is
// copied.
func (d *DEA) waitExit(in *instance, proc backend.Process, stdout, stderr io.Closer) chan int {
	exited := make(chan int, 1)
	go func() {
		code, err := proc.Wait()
		if err != nil {
			d.log.Warn("instance-wait-failed", "instance_guid", in.msg.InstanceGUID, "error", err)
		}
		_ = stdout.Close()
		_ = stderr.Close()
		exited <- code
	}()
	return exited
}

// initialHealthCheckDelay is the first probe's delay after a start; probes
// then back off to Config.HealthCheckInterval.
const initialHealthCheckDelay = 20 * time.Millisecond

// watch health-checks a started instance until it exits or is stopped.
// An instance re-adopted RUNNING (adopted) is routed at once and only
// checked at the healthy interval.
func (d *DEA) watch(in *instance, c backend.Container, port uint32, exited chan int, adopted bool) exit {
	hc := newChecker(d.cfg.Host, port, in.msg.HealthCheck, d.health)
	timeout := d.cfg.DefaultStartTimeout
	if s := in.msg.HealthCheck.TimeoutSeconds; s > 0 {
		timeout = time.Duration(s) * time.Second
	}
	if !adopted {
		d.cell(in, "Starting health monitoring of container")
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Probe soon after start and back off to the configured interval, so
	// an app that listens within milliseconds is routed within
	// milliseconds, while a slow one is not probed too often.
	wait := min(initialHealthCheckDelay, d.cfg.HealthCheckInterval)
	probe := time.NewTimer(wait)
	defer probe.Stop()
	lastErr := errors.New("no health check completed")
	healthy := hc.kind == "process" || adopted
	for !healthy {
		select {
		case code := <-exited:
			return d.crashExit(in, c, code)
		case <-in.stopCh:
			return d.stopRunning(in, c, exited)
		case <-deadline.C:
			desc := fmt.Sprintf("Instance never healthy after %ss: %v", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64), lastErr)
			d.cell(in, "%s", desc)
			return d.killCrash(in, c, exited, desc)
		case <-probe.C:
			if err := hc.check(in.ctx); err != nil {
				if in.ctx.Err() != nil {
					return d.stopRunning(in, c, exited)
				}
				lastErr = err
				d.mu.Lock()
				in.details = err.Error()
				d.mu.Unlock()
				wait = min(2*wait, d.cfg.HealthCheckInterval)
				probe.Reset(wait)
				continue
			}
			healthy = true
		}
	}
	if !adopted {
		d.cell(in, "Container became healthy")
		// Routes go out before the RUNNING heartbeat: an evacuating DEA
		// that sees this instance RUNNING withdraws the routes of the
		// one it replaces, and the routers must have these first.
		d.mu.Lock()
		in.state, in.stateAt, in.details = messages.StateRunning, time.Now(), ""
		d.mu.Unlock()
		d.register(in)
		d.changed(in)
		d.log.Info("instance-running", "app_guid", in.msg.AppGUID, "instance_guid", in.msg.InstanceGUID, "port", port)
	} else {
		d.register(in)
	}

	tick := time.NewTicker(d.cfg.HealthyCheckInterval)
	defer tick.Stop()
	for {
		select {
		case code := <-exited:
			return d.crashExit(in, c, code)
		case <-in.stopCh:
			return d.stopRunning(in, c, exited)
		case <-tick.C:
			if err := hc.check(in.ctx); err != nil {
				if in.ctx.Err() != nil {
					// A stop was requested as the tick fired: that
					// is what failed the check.
					return d.stopRunning(in, c, exited)
				}
				desc := "Instance became unhealthy: " + err.Error()
				d.cell(in, "Container became unhealthy")
				return d.killCrash(in, c, exited, desc)
			}
		}
	}
}

// stopExit reports a requested stop before the app ran.
func (d *DEA) stopExit(in *instance) (exit, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if in.stopReason == "" {
		return exit{}, false
	}
	return exit{reason: in.stopReason, status: exitNeverRan, description: "stopped while starting"}, true
}

func (d *DEA) crashBeforeRun(in *instance, desc string) exit {
	d.log.Warn("instance-start-failed", "app_guid", in.msg.AppGUID, "instance_guid", in.msg.InstanceGUID, "error", desc)
	d.cell(in, "%s", desc)
	return exit{reason: messages.ReasonCrashed, status: exitNeverRan, description: desc}
}

// crashExit describes an exit nobody asked for.
func (d *DEA) crashExit(in *instance, c backend.Container, code int) exit {
	if ex, stop := d.stopExit(in); stop {
		ex.status, ex.ran, ex.description = code, true, "stopped"
		return ex
	}
	desc := fmt.Sprintf("%s: Exited with status %d", in.sourceType(), code)
	note := ""
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if info, err := c.Info(ctx); err == nil && len(info.Events) > 0 {
		// The backend killed it: say why (out of memory, disk quota).
		note = strings.Join(info.Events, ", ")
		desc += " (" + note + ")"
	}
	return exit{reason: messages.ReasonCrashed, status: code, description: desc, ran: true, note: note}
}

// killCrash kills a misbehaving instance and reports desc.
func (d *DEA) killCrash(in *instance, c backend.Container, exited chan int, desc string) exit {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.StopTimeout)
	defer cancel()
	if err := c.Stop(ctx, true); err != nil {
		d.log.Warn("instance-kill-failed", "instance_guid", in.msg.InstanceGUID, "error", err)
	}
	code := 128 + 9
	select {
	case code = <-exited:
	case <-ctx.Done():
	}
	return exit{reason: messages.ReasonCrashed, status: code, description: desc, ran: true, note: desc}
}

// stopRunning stops a started instance on request: routes go first, then
// the processes (SIGTERM, grace, SIGKILL).
func (d *DEA) stopRunning(in *instance, c backend.Container, exited chan int) exit {
	d.unregister(in)
	d.drain(in)
	d.mu.Lock()
	reason := in.stopReason
	d.mu.Unlock()
	d.cell(in, "Cell %s stopping instance %s", d.id, in.msg.InstanceGUID)
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.StopTimeout)
	defer cancel()
	if err := c.Stop(ctx, false); err != nil {
		d.log.Warn("instance-stop-failed", "instance_guid", in.msg.InstanceGUID, "error", err)
	}
	code := 128 + 9
	select {
	case code = <-exited:
	case <-ctx.Done():
	}
	return exit{reason: reason, status: code, description: "stopped", ran: true}
}

// finish reports the exit, destroys the container and frees the
// reservation.
func (d *DEA) finish(in *instance, ex exit) {
	d.unregister(in)
	crash := ex.reason == messages.ReasonCrashed
	now := time.Now()
	em := &messages.DropletExited{
		DEA:             d.id,
		AppGUID:         in.msg.AppGUID,
		ProcessType:     procType(&in.msg),
		Version:         in.msg.Version,
		InstanceGUID:    in.msg.InstanceGUID,
		Index:           in.msg.Index,
		Reason:          ex.reason,
		ExitStatus:      ex.status,
		ExitDescription: ex.description,
	}
	if crash {
		em.CrashTimestamp = float64(now.UnixNano()) / 1e9
	}
	// Leave STARTING/RUNNING before anyone hears of the exit: a restart
	// for the same index may arrive the moment droplet.exited goes out,
	// and must not be taken for a duplicate of this instance.
	d.mu.Lock()
	if crash {
		in.state = messages.StateCrashed
		in.stateAt = now
		in.details = ex.description
	} else {
		in.state = messages.StateDown
	}
	d.mu.Unlock()
	if ex.ran {
		if ex.note != "" {
			d.cell(in, "Exit status %d (%s)", ex.status, ex.note)
		} else {
			d.cell(in, "Exit status %d", ex.status)
		}
	}
	d.mu.Lock()
	// An evacuated instance was reported gone when the evacuation began.
	notice := crash || !in.evacuating
	d.mu.Unlock()
	if notice {
		d.publish(bus.SubjectDropletExited, em)
	}
	d.log.Info("instance-exited", "app_guid", in.msg.AppGUID, "instance_guid", in.msg.InstanceGUID,
		"reason", ex.reason, "exit_status", ex.status, "exit_description", ex.description)

	d.mu.Lock()
	c := in.container
	d.mu.Unlock()
	if c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.StopTimeout)
		if err := d.deps.Backend.Destroy(ctx, c.Handle()); err != nil && !errors.Is(err, backend.ErrNotFound) {
			d.log.Warn("container-destroy-failed", "handle", c.Handle(), "error", err)
		}
		cancel()
	} else {
		// Create may have succeeded after a stop was requested.
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.StopTimeout)
		if err := d.deps.Backend.Destroy(ctx, in.msg.InstanceGUID); err != nil && !errors.Is(err, backend.ErrNotFound) {
			d.log.Warn("container-destroy-failed", "handle", in.msg.InstanceGUID, "error", err)
		}
		cancel()
	}

	d.mu.Lock()
	in.reserved = false
	in.container = nil
	in.cancel()
	if crash {
		in.state = messages.StateCrashed
		in.stateAt = now
		in.details = ex.description
	} else {
		in.state = messages.StateDown
		delete(d.instances, in.msg.InstanceGUID)
	}
	d.mu.Unlock()
	if crash {
		d.changed(in)
	} else {
		d.advertise()
		d.saveSnapshot()
	}
}

// appWriter is where the app's stdout or stderr goes.
func (d *DEA) appWriter(in *instance, stream string) io.WriteCloser {
	if d.deps.Logs == nil {
		return nopCloser{io.Discard}
	}
	return d.deps.Logs.Writer(in.msg.AppGUID, in.sourceType(), strconv.Itoa(in.msg.Index), stream)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// containerProperties label a container with what it runs, so a restarted
// DEA can tell.
func containerProperties(deaID string, msg *messages.StartInstance) map[string]string {
	return map[string]string{
		"owner":          "dea",
		"dea_id":         deaID,
		"app_guid":       msg.AppGUID,
		"instance_guid":  msg.InstanceGUID,
		"instance_index": strconv.Itoa(msg.Index),
		"version":        msg.Version,
		"process_type":   procType(msg),
	}
}
