package messages

import "time"

// Lease operations.
const (
	LeaseAcquire = "acquire" // grant or renew
	LeaseRelease = "release"
)

// LeaseRequest asks the controller (request on bus.SubjectLease, queue
// bus.QueueController) to grant, renew or release a named lease held in its
// store. Health managers use it so that exactly one of them acts.
type LeaseRequest struct {
	Op     string `json:"op"`
	Name   string `json:"name"`
	Holder string `json:"holder"`
	// TTLMillis is the lease's life from the controller's reading of now.
	TTLMillis int64 `json:"ttl_ms,omitempty"`
}

// maxLeaseTTL bounds a lease: a holder that dies keeps it at most this long.
const maxLeaseTTL = 5 * time.Minute

func (m *LeaseRequest) Validate() error {
	switch {
	case m.Name == "" || len(m.Name) > 128:
		return invalid("lease: name is required (at most 128 bytes)")
	case m.Holder == "" || len(m.Holder) > 256:
		return invalid("lease: holder is required (at most 256 bytes)")
	}
	switch m.Op {
	case LeaseAcquire:
		if m.TTLMillis <= 0 || time.Duration(m.TTLMillis)*time.Millisecond > maxLeaseTTL {
			return invalid("lease: ttl_ms must be in (0, %d]", maxLeaseTTL.Milliseconds())
		}
	case LeaseRelease:
	default:
		return invalid("lease: op must be %q or %q", LeaseAcquire, LeaseRelease)
	}
	return nil
}

// LeaseReply answers LeaseRequest.
type LeaseReply struct {
	Granted   bool      `json:"granted"`
	Holder    string    `json:"holder,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitempty"`
	Error     string    `json:"error,omitempty"`
}

func (m *LeaseReply) Validate() error { return nil }
