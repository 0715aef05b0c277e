package osb

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// idPattern restricts instance and binding ids to characters that are safe
// in database names, Redis key patterns and URLs. Platforms use GUIDs.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID reports whether id is an acceptable instance or binding id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// cleanJSONError strips the "json: " prefix of encoding/json errors.
func cleanJSONError(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// emptyObject is the canonical form of absent parameters.
var emptyObject = json.RawMessage(`{}`)

// canonicalObject checks that raw is a JSON object (or absent/null, which
// mean {}) and returns it re-encoded with sorted keys, so that two requests
// with the same parameters compare equal byte for byte.
func canonicalObject(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return emptyObject, nil
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: parameters must be a JSON object", ErrBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: parameters: %s", ErrBadRequest, cleanJSONError(err))
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: parameters: %s", ErrBadRequest, cleanJSONError(err))
	}
	return out, nil
}

// sameJSON compares two canonical JSON values; absent equals {}.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 {
		a = emptyObject
	}
	if len(b) == 0 {
		b = emptyObject
	}
	return bytes.Equal(a, b)
}

func newOperationID(kind string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return kind + "-" + hex.EncodeToString(b[:])
}

// decodeBody decodes a bounded JSON request body into dst.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: body larger than %d bytes", ErrBadRequest, limit)
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: a JSON body is required", ErrBadRequest)
		}
		return fmt.Errorf("%w: malformed JSON body: %s", ErrBadRequest, cleanJSONError(err))
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON body", ErrBadRequest)
	}
	return nil
}

// readBody decodes the request body into dst; when it is bad it answers
// 400 and returns false.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, dst); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, errorText(err))
		return false
	}
	return true
}

// readParams is the canonical form of request parameters; when they are
// not a JSON object it answers 400 and returns false.
func readParams(w http.ResponseWriter, raw json.RawMessage) (json.RawMessage, bool) {
	params, err := canonicalObject(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, errorText(err))
		return nil, false
	}
	return params, true
}

// loadInstance loads instance id; when there is none it answers 410 Gone
// (gone) or 404, when loading fails 500, and returns false.
func (s *Server) loadInstance(w http.ResponseWriter, r *http.Request, id string, gone bool) (*Instance, bool) {
	inst, err := s.store.GetInstance(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound) && gone:
		writeJSON(w, http.StatusGone, struct{}{})
		return nil, false
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "no such service instance")
		return nil, false
	case err != nil:
		s.writeFailure(w, "instance-load-failed", err, "instance_id", id)
		return nil, false
	}
	return inst, true
}

// writeBusy answers 422: op of the instance is in progress.
func writeBusy(w http.ResponseWriter, op *Operation) {
	writeError(w, http.StatusUnprocessableEntity, CodeConcurrencyError,
		fmt.Sprintf("a %s of this service instance is in progress", op.Kind))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, ErrorResponse{Error: code, Description: description})
}

// errorText is an error's message without the ErrBadRequest marker.
func errorText(err error) string {
	return strings.ReplaceAll(err.Error(), ErrBadRequest.Error()+": ", "")
}

// keyLock serialises work per key; waiting honours the context.
type keyLock struct {
	mu      sync.Mutex
	entries map[string]*lockEntry
}

type lockEntry struct {
	ch   chan struct{}
	refs int
}

func newKeyLock() *keyLock { return &keyLock{entries: map[string]*lockEntry{}} }

// Lock takes the key's lock and returns its release function.
func (k *keyLock) Lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	e := k.entries[key]
	if e == nil {
		e = &lockEntry{ch: make(chan struct{}, 1)}
		k.entries[key] = e
	}
	e.refs++
	k.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-e.ch; k.release(key, e) }) }, nil
	case <-ctx.Done():
		k.release(key, e)
		return nil, ctx.Err()
	}
}

func (k *keyLock) release(key string, e *lockEntry) {
	k.mu.Lock()
	e.refs--
	if e.refs == 0 {
		delete(k.entries, key)
	}
	k.mu.Unlock()
}

// NameHash is a short stable hex digest (24 hex digits, 96 bits) of its
// parts, for deriving server-side names (databases, roles, users) from
// instance and binding ids: fixed length, safe in every identifier syntax,
// and the same on every retry.
func NameHash(parts ...string) string {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// RandomSecret returns 24 random bytes in hex: a password that is safe in
// URIs, SQL literals and Redis ACL rules without escaping.
func RandomSecret() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
