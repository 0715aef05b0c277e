//go:build linux && !amd64 && !arm64

package runc

// sysBPF is 0 where this package does not know bpf(2)'s number: the bind
// filter is then unavailable and port ownership is not enforced.
const sysBPF = 0
