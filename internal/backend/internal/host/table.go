package host

import (
	"context"
	"fmt"
	"sync"

	"github.com/ingot-paas/ingot/internal/backend"
)

// Lookup finds handle among a backend's containers cs, guarded by mu
// (backend.ErrNotFound).
func Lookup[C backend.Container](mu sync.Locker, cs map[string]C, handle string) (backend.Container, error) {
	mu.Lock()
	defer mu.Unlock()
	c, ok := cs[handle]
	if !ok {
		return nil, fmt.Errorf("%w: %s", backend.ErrNotFound, handle)
	}
	return c, nil
}

// List returns a backend's containers cs, guarded by mu.
func List[C backend.Container](ctx context.Context, mu sync.Locker, cs map[string]C) ([]backend.Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([]backend.Container, 0, len(cs))
	for _, c := range cs {
		out = append(out, c)
	}
	return out, nil
}

// SamePort is NetIn's port when the host port and the container port are
// one (host networking): a 0 takes the other's number, both 0 is 0 (any
// port). ok is false when they differ.
func SamePort(hostPort, containerPort uint32) (port uint32, ok bool) {
	if hostPort == 0 {
		hostPort = containerPort
	}
	return hostPort, containerPort == 0 || containerPort == hostPort
}
