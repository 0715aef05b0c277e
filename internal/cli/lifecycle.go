package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/pkg/client"
)

// logPage is how many envelopes one log-cache read asks for.
const logPage = 1000

// maxStatsFailures is how many stats polls in a row may fail before
// waiting for instances gives up.
const maxStatsFailures = 5

// ErrStartFailed is wrapped when an app's instances crash or never run.
var ErrStartFailed = errors.New("start unsuccessful")

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// logCursor returns the start_time just after the app's newest log line
// (by the server's clock), so a reader shows only what comes next.
func (s *session) logCursor(ctx context.Context, appGUID string) int64 {
	envs, err := s.c.ReadLogs(ctx, appGUID, 0, client.ReadLogsOptions{Limit: 1, Descending: true})
	if err != nil {
		s.warnLogs(err)
		return s.opts.now().Add(-time.Second).UnixNano()
	}
	if len(envs) == 0 {
		return 0
	}
	return envs[0].Timestamp + 1
}

// drainLogs reads every log line from cursor on, hands each to emit, and
// returns the new cursor.
func (s *session) drainLogs(ctx context.Context, appGUID string, cursor int64, emit func(client.LogEnvelope)) int64 {
	for {
		envs, err := s.c.ReadLogs(ctx, appGUID, cursor, client.ReadLogsOptions{Limit: logPage})
		if err != nil {
			if ctx.Err() == nil {
				s.warnLogs(err)
			}
			return cursor
		}
		for _, e := range envs {
			if e.Timestamp < cursor {
				continue
			}
			cursor = e.Timestamp + 1
			emit(e)
		}
		if len(envs) < logPage {
			return cursor
		}
	}
}

// printStaging prints STG lines indented.
func (s *session) printStaging(e client.LogEnvelope) {
	if e.SourceType != "STG" {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(e.Message, "\r\n"), "\n") {
		s.printf("   %s\n", line)
	}
}

// stage builds a droplet from a package, streaming the staging log, and
// returns the droplet. A failed build prints the error and a tip.
func (s *session) stage(ctx context.Context, app *client.App, pkgGUID string) (*client.Droplet, error) {
	s.printf("\nStaging app and tracing logs...\n")
	cursor := s.logCursor(ctx, app.GUID)
	build, err := s.c.CreateBuild(ctx, pkgGUID)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, s.opts.stagingTimeout)
	defer cancel()
	var lastPoll time.Time
	for {
		cursor = s.drainLogs(sctx, app.GUID, cursor, s.printStaging)
		if now := s.opts.now(); now.Sub(lastPoll) >= s.opts.pollInterval {
			lastPoll = now
			b, err := s.c.GetBuild(sctx, build.GUID)
			if err != nil {
				return nil, s.stagingErr(ctx, sctx, app, err)
			}
			if done, berr := client.BuildDone(b); done {
				// Lines may trail the build's end by a moment: read
				// once more after a short pause.
				if sleep(sctx, min(s.opts.logInterval, 50*time.Millisecond)) == nil {
					s.drainLogs(sctx, app.GUID, cursor, s.printStaging)
				}
				if berr != nil {
					s.printf("\nError staging application: %s\n", strings.TrimPrefix(berr.Error(), client.ErrStagingFailed.Error()+": "))
					s.printf("TIP: use 'ingot logs %s --recent' for more information\n", app.Name)
					return nil, fmt.Errorf("staging app %s failed: %w", app.Name, berr)
				}
				build = b
				break
			}
		}
		if err := sleep(sctx, s.opts.logInterval); err != nil {
			return nil, s.stagingErr(ctx, sctx, app, err)
		}
	}
	d, err := s.c.GetDroplet(ctx, build.Droplet.GUID)
	if err != nil {
		return nil, fmt.Errorf("get droplet: %w", err)
	}
	return d, nil
}

func (s *session) stagingErr(ctx, sctx context.Context, app *client.App, err error) error {
	if ctx.Err() == nil && sctx.Err() != nil {
		return fmt.Errorf("staging app %s timed out after %s", app.Name, s.opts.stagingTimeout)
	}
	return err
}

// stateCounts summarizes instance states.
type stateCounts struct {
	total, running, starting, crashed, down int
}

// countStates counts instance states. A RUNNING instance whose uptime
// predates since (an instance from before a restart) counts as starting.
func countStates(stats []client.InstanceStats, since, now time.Time) stateCounts {
	c := stateCounts{total: len(stats)}
	elapsed := now.Sub(since) + 2*time.Second
	for _, st := range stats {
		switch st.State {
		case client.InstanceRunning:
			if !since.IsZero() && time.Duration(st.Uptime)*time.Second > elapsed {
				c.starting++
			} else {
				c.running++
			}
		case client.InstanceStarting:
			c.starting++
		case client.InstanceCrashed:
			c.crashed++
		default:
			c.down++
		}
	}
	return c
}

func (c stateCounts) String() string {
	parts := []string{fmt.Sprintf("%d of %d instances running", c.running, c.total)}
	if c.starting > 0 {
		parts = append(parts, fmt.Sprintf("%d starting", c.starting))
	}
	if c.crashed > 0 {
		parts = append(parts, fmt.Sprintf("%d crashed", c.crashed))
	}
	if c.down > 0 {
		parts = append(parts, fmt.Sprintf("%d down", c.down))
	}
	return strings.Join(parts, ", ")
}

// waitForStart polls the app's instance stats until every instance runs
// (nil), or some crashed while none runs, or the startup timeout passes
// with none running (ErrStartFailed, after printing why and a tip). since
// is when the start or restart was asked for.
func (s *session) waitForStart(ctx context.Context, app *client.App, since time.Time) error {
	s.printf("\nWaiting for app %s to start...\n\n", app.Name)
	procs, err := s.c.ListProcesses(ctx, app.GUID)
	if err != nil {
		return fmt.Errorf("list processes of %s: %w", app.Name, err)
	}
	deadline := s.opts.now().Add(s.opts.startupTimeout)
	printed := ""
	seenDetails := map[string]bool{}
	failures := 0
	for {
		var all []client.InstanceStats
		var pollErr error
		for _, p := range procs {
			if p.Instances == 0 {
				continue
			}
			st, err := s.c.ProcessStats(ctx, p.GUID)
			if err != nil {
				pollErr = err
				break
			}
			all = append(all, st.Resources...)
			// Desired instances the server does not report yet are down.
			for i := len(st.Resources); i < p.Instances; i++ {
				all = append(all, client.InstanceStats{Type: p.Type, Index: i, State: client.InstanceDown})
			}
		}
		now := s.opts.now()
		var c stateCounts
		if pollErr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if failures++; failures >= maxStatsFailures {
				return fmt.Errorf("get instance stats of %s: %w", app.Name, pollErr)
			}
		} else {
			failures = 0
			c = countStates(all, since, now)
			if c.total == 0 {
				return nil // no instances wanted
			}
			if printed == "" {
				s.printf("Instances starting...\n")
			}
			if line := c.String(); line != printed {
				s.printf("%s\n", line)
				printed = line
			}
			for _, st := range all {
				if st.Details != "" && !seenDetails[st.Details] {
					seenDetails[st.Details] = true
					s.printf("Error starting instances: '%s'\n", st.Details)
				}
			}
			if c.running == c.total {
				return nil
			}
			if c.crashed > 0 && c.running == 0 {
				return s.startFailed(app, all, fmt.Sprintf("%d of %d instances crashed", c.crashed, c.total))
			}
		}
		if now.After(deadline) {
			if c.running > 0 {
				fmt.Fprintf(s.errOut, "Warning: only %d of %d instances of %s are running after %s\n",
					c.running, c.total, app.Name, s.opts.startupTimeout)
				return nil
			}
			return s.startFailed(app, all, fmt.Sprintf("no instance is running after %s", s.opts.startupTimeout))
		}
		if err := sleep(ctx, s.opts.statsInterval); err != nil {
			return err
		}
	}
}

// startFailed prints the failure, the crashed instances and a tip.
func (s *session) startFailed(app *client.App, stats []client.InstanceStats, why string) error {
	s.printf("\nStart unsuccessful\n\n")
	for _, st := range stats {
		if st.State == client.InstanceCrashed || st.Details != "" {
			detail := st.Details
			if detail == "" {
				detail = "crashed"
			}
			s.printf("instance #%d %s: %s\n", st.Index, lowerState(st.State), detail)
		}
	}
	s.printf("TIP: use 'ingot logs %s --recent' for more information\n", app.Name)
	return fmt.Errorf("%w: app %s: %s", ErrStartFailed, app.Name, why)
}

// ensureDroplet makes sure the app has a current droplet: it stages the
// newest package when there is none.
func (s *session) ensureDroplet(ctx context.Context, app *client.App) error {
	_, err := s.c.GetCurrentDroplet(ctx, app.GUID)
	if err == nil {
		return nil
	}
	if !client.IsNotFound(err) {
		return fmt.Errorf("get current droplet of %s: %w", app.Name, err)
	}
	pkg, err := s.latestReadyPackage(ctx, app)
	if err != nil {
		return err
	}
	d, err := s.stage(ctx, app, pkg.GUID)
	if err != nil {
		return err
	}
	if err := s.c.SetCurrentDroplet(ctx, app.GUID, d.GUID); err != nil {
		return fmt.Errorf("set current droplet: %w", err)
	}
	return nil
}

// latestReadyPackage returns the app's newest package once it is READY.
func (s *session) latestReadyPackage(ctx context.Context, app *client.App) (*client.Package, error) {
	pkg, err := s.c.LatestPackage(ctx, app.GUID)
	if client.IsNotFound(err) {
		return nil, fmt.Errorf("app %s has no uploaded package: push it first", app.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("find package of %s: %w", app.Name, err)
	}
	if pkg.State != client.PackageReady {
		if pkg, err = s.c.PollPackage(ctx, pkg.GUID); err != nil {
			return nil, err
		}
	}
	return pkg, nil
}

// startAndWait starts (or restarts) the app, waits for its instances and
// prints the summary; the start error, if any, comes after the summary.
func (s *session) startAndWait(ctx context.Context, app *client.App, restart bool) error {
	since := s.opts.now()
	var err error
	if restart {
		_, err = s.c.RestartApp(ctx, app.GUID)
	} else {
		_, err = s.c.StartApp(ctx, app.GUID)
	}
	if err != nil {
		return err
	}
	waitErr := s.waitForStart(ctx, app, since)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := s.showApp(ctx, app); err != nil && waitErr == nil {
		return err
	}
	return waitErr
}
