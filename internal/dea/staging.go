package dea

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

const (
	// defaultStagingMemoryMB and defaultStagingDiskMB are reserved for a
	// staging request that names no limits.
	defaultStagingMemoryMB = 1024
	defaultStagingDiskMB   = 4096
	// defaultStagingTimeout bounds a staging request naming no timeout.
	defaultStagingTimeout = 15 * time.Minute
)

// handleStaging answers staging.<id>.start once staging has finished.
func (d *DEA) handleStaging(m *bus.Msg) {
	var req messages.StagingRequest
	reply := func(res *messages.StagingResult) {
		data, _ := json.Marshal(res)
		if m.Reply == "" {
			return
		}
		if err := d.deps.Bus.Respond(m, data); err != nil {
			d.log.Warn("staging-reply-failed", "build_guid", res.BuildGUID, "error", err)
		}
	}
	if err := messages.Decode(m.Data, &req); err != nil {
		reply(&messages.StagingResult{BuildGUID: req.BuildGUID, Error: err.Error()})
		return
	}
	mem, disk := req.MemoryMB, req.DiskMB
	if mem <= 0 {
		mem = defaultStagingMemoryMB
	}
	if disk <= 0 {
		disk = defaultStagingDiskMB
	}
	if err := d.reserveStaging(&req, mem, disk); err != nil {
		d.log.Info("staging-refused", "app_guid", req.AppGUID, "build_guid", req.BuildGUID, "error", err)
		reply(&messages.StagingResult{BuildGUID: req.BuildGUID, Error: err.Error()})
		return
	}
	d.advertise()
	d.log.Info("staging-started", "app_guid", req.AppGUID, "build_guid", req.BuildGUID)
	go func() {
		defer d.wg.Done()
		defer func() {
			<-d.stagingSlots
			d.mu.Lock()
			d.stagingMemMB -= mem
			d.stagingDisk -= disk
			d.mu.Unlock()
			d.advertise()
		}()
		timeout := defaultStagingTimeout
		if req.TimeoutSeconds > 0 {
			timeout = time.Duration(req.TimeoutSeconds) * time.Second
		}
		// The stager enforces the timeout itself; this bound is a backstop.
		ctx, cancel := context.WithTimeout(d.stagingCtx, timeout+30*time.Second)
		defer cancel()
		res := d.deps.Stager.Stage(ctx, &req)
		if res == nil {
			res = &messages.StagingResult{Error: "stager returned no result"}
		}
		if res.BuildGUID == "" {
			res.BuildGUID = req.BuildGUID
		}
		d.log.Info("staging-finished", "app_guid", req.AppGUID, "build_guid", req.BuildGUID, "error", res.Error)
		reply(res)
	}()
}

// reserveStaging takes a staging slot and reserves memory and disk.
func (d *DEA) reserveStaging(req *messages.StagingRequest, mem, disk int64) error {
	if d.deps.Stager == nil {
		return fmt.Errorf("this dea does not stage")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.shutting {
		return ErrShuttingDown
	}
	if req.Stack != "" && !slices.Contains(d.cfg.Stacks, req.Stack) {
		return fmt.Errorf("stack %q is not served by this dea (stacks %v)", req.Stack, d.cfg.Stacks)
	}
	availMem, availDisk := d.availableLocked()
	if mem > availMem || disk > availDisk {
		return fmt.Errorf("insufficient resources for staging: need %d MB memory and %d MB disk, have %d MB and %d MB", mem, disk, availMem, availDisk)
	}
	select {
	case d.stagingSlots <- struct{}{}:
	default:
		return fmt.Errorf("too many concurrent stagings on this dea (limit %d)", cap(d.stagingSlots))
	}
	d.stagingMemMB += mem
	d.stagingDisk += disk
	d.wg.Add(1)
	return nil
}
