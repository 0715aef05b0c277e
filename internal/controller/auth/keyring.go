package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KeyDir is the keyring's directory inside the data dir: one PEM file per
// signing key, named <created unix nanos>-<kid>.pem. The newest key signs;
// every key verifies until it retires.
const KeyDir = "uaa-keys"

// MaxSigningKeys bounds the keyring.
const MaxSigningKeys = 16

// ErrTooManyKeys: a rotation would exceed MaxSigningKeys.
var ErrTooManyKeys = errors.New("auth: too many signing keys; older keys retire once their tokens have expired")

type signingKey struct {
	kid     string
	key     *rsa.PrivateKey
	created time.Time
	file    string
}

// Keyring holds the RSA signing keys: the active (newest) one signs, all
// of them verify. It is safe for concurrent use.
type Keyring struct {
	dir string
	now func() time.Time

	mu   sync.RWMutex
	keys []*signingKey // oldest first
}

// KeyID derives a key's kid from its public key.
func KeyID(pub *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return "key-" + hex.EncodeToString(sum[:6])
}

// NewKeyring makes a keyring of the given keys (oldest first) that is not
// backed by files (tests).
func NewKeyring(keys ...*rsa.PrivateKey) *Keyring {
	k := &Keyring{now: time.Now}
	t := time.Now()
	for i, key := range keys {
		k.keys = append(k.keys, &signingKey{kid: KeyID(&key.PublicKey), key: key, created: t.Add(time.Duration(i-len(keys)) * time.Second)})
	}
	return k
}

// LoadKeyring reads the keyring from dataDir/KeyDir. At first start it
// adopts the single key of earlier versions (KeyFile), creating it when
// absent, so tokens issued before keep verifying.
func LoadKeyring(dataDir string) (*Keyring, error) {
	dir := filepath.Join(dataDir, KeyDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key dir: %w", err)
	}
	k := &Keyring{dir: dir, now: time.Now}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read key dir: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pem") {
			continue
		}
		sk, err := readKeyFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		k.keys = append(k.keys, sk)
	}
	if len(k.keys) == 0 {
		legacy, err := LoadOrCreateKey(dataDir)
		if err != nil {
			return nil, err
		}
		created := time.Now()
		if fi, err := os.Stat(filepath.Join(dataDir, KeyFile)); err == nil {
			created = fi.ModTime()
		}
		if _, err := k.add(legacy, created); err != nil {
			return nil, err
		}
	}
	sort.Slice(k.keys, func(i, j int) bool { return k.keys[i].created.Before(k.keys[j].created) })
	return k, nil
}

func readKeyFile(path string) (*signingKey, error) {
	base := strings.TrimSuffix(filepath.Base(path), ".pem")
	ns, kid, ok := strings.Cut(base, "-")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return nil, fmt.Errorf("signing key %s: name is not <unix nanos>-<kid>.pem", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("read signing key %s: no PEM block", path)
	}
	pk, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", path, err)
	}
	rk, ok := pk.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not an RSA key", path)
	}
	if KeyID(&rk.PublicKey) != kid {
		return nil, fmt.Errorf("signing key %s: kid does not match the key", path)
	}
	return &signingKey{kid: kid, key: rk, created: time.Unix(0, n), file: path}, nil
}

// add writes key to the keyring directory (when file-backed) and appends
// it; the caller holds mu or owns k.
func (k *Keyring) add(key *rsa.PrivateKey, created time.Time) (*signingKey, error) {
	sk := &signingKey{kid: KeyID(&key.PublicKey), key: key, created: created}
	if k.dir != "" {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("encode signing key: %w", err)
		}
		sk.file = filepath.Join(k.dir, fmt.Sprintf("%d-%s.pem", created.UnixNano(), sk.kid))
		if err := writeFileAtomic(sk.file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, fmt.Errorf("write signing key: %w", err)
		}
	}
	k.keys = append(k.keys, sk)
	return sk, nil
}

// Rotate generates a new key that signs from now on. Older keys keep
// verifying; retire removes them once nothing they signed can be valid.
func (k *Keyring) Rotate() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) >= MaxSigningKeys {
		return "", ErrTooManyKeys
	}
	created := k.now()
	if last := k.keys[len(k.keys)-1].created; !created.After(last) {
		created = last.Add(time.Nanosecond)
	}
	sk, err := k.add(key, created)
	if err != nil {
		return "", err
	}
	return sk.kid, nil
}

// Retire removes the keys superseded longer than maxTokenTTL ago: every
// token they signed has expired.
func (k *Keyring) Retire(maxTokenTTL time.Duration) (removed []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	keep := k.keys[:0:0]
	for i, sk := range k.keys {
		if i+1 < len(k.keys) && now.Sub(k.keys[i+1].created) > maxTokenTTL {
			if sk.file != "" {
				if err := os.Remove(sk.file); err != nil && !errors.Is(err, os.ErrNotExist) {
					keep = append(keep, sk)
					continue
				}
			}
			removed = append(removed, sk.kid)
			continue
		}
		keep = append(keep, sk)
	}
	k.keys = keep
	return removed
}

// active is the signing key.
func (k *Keyring) active() *signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[len(k.keys)-1]
}

// ActiveKeyID is the kid new tokens are signed with.
func (k *Keyring) ActiveKeyID() string { return k.active().kid }

// publicKey finds a verification key by kid.
func (k *Keyring) publicKey(kid string) (*rsa.PublicKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, sk := range k.keys {
		if sk.kid == kid {
			return &sk.key.PublicKey, true
		}
	}
	return nil, false
}

// JWK is a public key as /token_keys lists it.
type JWK struct {
	Kty   string `json:"kty"`
	Alg   string `json:"alg"`
	Use   string `json:"use"`
	Kid   string `json:"kid"`
	N     string `json:"n"`
	E     string `json:"e"`
	Value string `json:"value"`
}

func toJWK(sk *signingKey) JWK {
	pub := &sk.key.PublicKey
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return JWK{
		Kty: "RSA", Alg: "RS256", Use: "sig", Kid: sk.kid,
		N:     base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:     base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		Value: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}
}

// PublicKeys lists every verification key, the active one first.
func (k *Keyring) PublicKeys() []JWK {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]JWK, 0, len(k.keys))
	for i := len(k.keys) - 1; i >= 0; i-- {
		out = append(out, toJWK(k.keys[i]))
	}
	return out
}

// ActiveJWK is the signing key's public half.
func (k *Keyring) ActiveJWK() JWK { return toJWK(k.active()) }
