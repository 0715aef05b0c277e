//go:build linux

package runc

// sysBPF is the number of the bpf(2) system call.
const sysBPF = 280
