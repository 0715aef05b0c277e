package router

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// idGen makes X-Vcap-Request-Id values: UUID-shaped (version 4 and
// variant bits set), unique per router process without reading the
// system's random source per request. The first 80 bits are random per
// process; the last 48 bits are a counter that starts at a random value,
// so ids from different router processes are unlikely to collide and ids
// from one process never repeat before 2^48 requests.
type idGen struct {
	prefix [10]byte
	ctr    atomic.Uint64
}

func newIDGen() *idGen {
	g := &idGen{}
	var seed [16]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails on Linux
	copy(g.prefix[:], seed[:10])
	g.prefix[6] = g.prefix[6]&0x0f | 0x40 // version 4
	g.prefix[8] = g.prefix[8]&0x3f | 0x80 // RFC 4122 variant
	g.ctr.Store(binary.BigEndian.Uint64(seed[8:]))
	return g
}

// next returns a fresh id: one allocation, the string itself.
func (g *idGen) next() string {
	var raw [16]byte
	copy(raw[:10], g.prefix[:])
	n := g.ctr.Add(1)
	raw[10], raw[11], raw[12] = byte(n>>40), byte(n>>32), byte(n>>24)
	raw[13], raw[14], raw[15] = byte(n>>16), byte(n>>8), byte(n)
	const hex = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, b := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hex[b>>4], hex[b&0xf]
		j += 2
	}
	return string(out[:])
}
