//go:build linux

package runc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// runcTimeout bounds every runc management command.
const runcTimeout = 30 * time.Second

// runc runs a management command (state, kill, delete, list) and returns
// its stdout.
func (b *Backend) runc(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, runcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.cfg.RuncPath, append([]string{"--root", b.cfg.RuncRoot}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("runc %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// runcList returns the status ("running", "stopped", ...) of every
// container runc knows under RuncRoot.
func (b *Backend) runcList(ctx context.Context) (map[string]string, error) {
	out, err := b.runc(ctx, "list", "--format", "json")
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if s := strings.TrimSpace(string(out)); s != "" && s != "null" {
		if err := json.Unmarshal(out, &list); err != nil {
			return nil, fmt.Errorf("runc list: %w", err)
		}
	}
	m := make(map[string]string, len(list))
	for _, c := range list {
		m[c.ID] = c.Status
	}
	return m, nil
}

// forceDelete removes runc's container (killing it if needed); a container
// runc does not know is no error.
func (b *Backend) forceDelete(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), runcTimeout)
	defer cancel()
	if _, err := os.Stat(b.cfg.RuncRoot + "/" + id); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_, err := b.runc(ctx, "delete", "--force", id)
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return nil
	}
	return err
}
