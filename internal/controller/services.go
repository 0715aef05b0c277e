package controller

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/auth"
	"github.com/ingot-paas/ingot/internal/controller/osbclient"
	"github.com/ingot-paas/ingot/internal/store"
)

// Services: the controller as an Open Service Broker platform. Broker
// passwords are sealed with AES-GCM under a key in the data dir; every
// broker call goes through osbclient with orphan mitigation; service
// operations run as jobs on their own bounded pool because an asynchronous
// broker operation is polled for as long as it takes.

// brokerKeyFile holds the key that seals broker passwords.
const brokerKeyFile = "service-broker-key"

// maxServiceOps bounds concurrent service operations (jobs and polls).
const maxServiceOps = 64

type services struct {
	aead      cipher.AEAD
	transport *http.Transport
	mitigator *osbclient.Mitigator
	sem       chan struct{}
	locks     keyedMutex // per service instance guid
}

func newServices(cfg Config, log *slog.Logger) (*services, error) {
	key, err := auth.LoadOrCreateSecret(cfg.DataDir, brokerKeyFile, 32)
	if err != nil {
		return nil, fmt.Errorf("broker credential key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("broker credential key: want 32 bytes, have %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("broker credential key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("broker credential key: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	return &services{
		aead: aead, transport: tr, sem: make(chan struct{}, maxServiceOps),
		mitigator: osbclient.NewMitigator(osbclient.MitigatorConfig{
			Poll: osbclient.PollOptions{Interval: cfg.BrokerPollInterval, MaxDuration: cfg.BrokerMaxPollDuration},
		}, log.With("component", "orphan-mitigator")),
	}, nil
}

// seal encrypts a broker password for the store (nonce || ciphertext,
// base64); the broker guid is authenticated data, so a sealed password
// cannot be moved to another broker.
func (s *services) seal(brokerGUID, plain string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal broker password: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(brokerGUID))
	return base64.StdEncoding.EncodeToString(out), nil
}

func (s *services) open(brokerGUID, sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", errors.New("open broker password: malformed")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(brokerGUID))
	if err != nil {
		return "", fmt.Errorf("open broker password: %w", err)
	}
	return string(plain), nil
}

// brokerClient builds the OSB client of a broker record.
func (c *Controller) brokerClient(b *store.ServiceBroker) (*osbclient.Client, error) {
	pass, err := c.svc.open(b.GUID, b.PasswordSealed)
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", b.Name, err)
	}
	return osbclient.New(osbclient.Config{
		URL: b.URL, Username: b.Username, Password: pass, Timeout: c.cfg.BrokerTimeout,
		Transport: c.svc.transport, Mitigator: c.svc.mitigator,
	})
}

func (c *Controller) pollOptions(onProgress func(osbclient.LastOperation)) osbclient.PollOptions {
	return osbclient.PollOptions{Interval: c.cfg.BrokerPollInterval, MaxDuration: c.cfg.BrokerMaxPollDuration,
		OnProgress: onProgress}
}

// serviceJob is runJob for service operations: run gets the job's guid
// (to mark it POLLING) and may take as long as the broker does; the pool
// is bounded by maxServiceOps.
func (c *Controller) serviceJob(w http.ResponseWriter, r *http.Request, op, resType, resGUID string,
	run func(ctx context.Context, jobGUID string) ([]string, error)) error {
	select {
	case c.svc.sem <- struct{}{}:
	default:
		return apierr.ServiceUnavailable("Too many service operations are running; try again shortly")
	}
	j := &store.Job{Meta: store.Meta{GUID: newGUID()}, Operation: op, State: store.JobProcessing,
		ResourceType: resType, ResourceGUID: resGUID}
	if err := c.deps.Store.Jobs().Create(r.Context(), j); err != nil {
		<-c.svc.sem
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	c.goBackground(func(base context.Context) {
		defer func() { <-c.svc.sem }()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(base, cancel)
		defer stop()
		warnings, err := run(ctx, j.GUID)
		if base.Err() != nil && resType != "service_broker" {
			// Shutting down: the operation's record names this job, and
			// the next start resumes the operation and finishes the job.
			// (A broker's catalog sync is not resumed: its job fails.)
			return
		}
		if err != nil && apierr.As(err) == nil {
			c.log.Warn("service-job-failed", "job_guid", j.GUID, "operation", op, "error", err)
		}
		c.finishJob(context.WithoutCancel(ctx), j.GUID, warnings, err)
	})
	w.Header().Set("Location", c.url+"/v3/jobs/"+j.GUID)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// markJobPolling sets a job's state to POLLING (the broker answered 202).
func (c *Controller) markJobPolling(ctx context.Context, guid string) {
	for attempt := 0; attempt < 5; attempt++ {
		j, err := c.deps.Store.Jobs().Get(ctx, guid)
		if err != nil {
			return
		}
		j.State = store.JobPolling
		if err := c.deps.Store.Jobs().Update(ctx, j); !errors.Is(err, store.ErrConflict) {
			return
		}
	}
}

// brokerErr turns a broker failure into the API error shown to the user.
func brokerErr(what string, err error) error {
	var be *osbclient.Error
	switch {
	case errors.As(err, &be):
		detail := be.Description
		if detail == "" {
			detail = http.StatusText(be.Status)
		}
		if be.Status == http.StatusConflict || be.Status == http.StatusUnprocessableEntity || be.Status == http.StatusBadRequest {
			return &apierr.Error{Status: http.StatusUnprocessableEntity, Code: 10009, Title: "CF-UnprocessableEntity",
				Detail: fmt.Sprintf("The service broker rejected the request to %s: %s", what, detail)}
		}
		return &apierr.Error{Status: http.StatusBadGateway, Code: 10001, Title: "CF-ServiceBrokerBadResponse",
			Detail: fmt.Sprintf("The service broker returned an invalid response while trying to %s: status %d: %s", what, be.Status, detail)}
	case errors.Is(err, osbclient.ErrTimeout):
		return &apierr.Error{Status: http.StatusGatewayTimeout, Code: 10001, Title: "CF-HttpClientTimeout",
			Detail: fmt.Sprintf("The service broker did not respond within the timeout while trying to %s", what)}
	case errors.Is(err, osbclient.ErrUnreachable), errors.Is(err, osbclient.ErrMalformed):
		return &apierr.Error{Status: http.StatusBadGateway, Code: 10001, Title: "CF-ServiceBrokerBadResponse",
			Detail: fmt.Sprintf("The service broker could not be used to %s: %v", what, err)}
	}
	return err
}

// lastOp builds a record's last operation.
func lastOp(typ, state, description string) store.LastOperation {
	return store.LastOperation{Type: typ, State: state, Description: description, UpdatedAt: time.Now().UTC()}
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

// withJob names the job that follows an operation.
func withJob(op store.LastOperation, jobGUID string) store.LastOperation {
	op.JobGUID = jobGUID
	return op
}
