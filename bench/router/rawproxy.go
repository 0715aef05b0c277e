package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
)

// roleRawProxy is a floor, not a router: the least a Go HTTP/1.1 reverse
// proxy can do per request on this machine. Each client connection gets
// its own backend connection; request heads (GET only, no body) are
// forwarded byte for byte and responses must carry Content-Length. No
// routing, headers, logs or error handling. It answers "what would a
// purpose-built server loop save over net/http?" before anyone builds one.
const roleRawProxy = "rawproxy"

const (
	envBackend    = "INGOT_BENCH_BACKEND"
	envRawProfile = "INGOT_BENCH_RAW_CPUPROFILE"
)

func runRawProxy() error {
	backend := os.Getenv(envBackend)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if path := os.Getenv(envRawProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	announce(ln)
	ctx, stop := signalContext()
	defer stop()
	go func() { <-ctx.Done(); _ = ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			b, err := net.Dial("tcp", backend)
			if err != nil {
				return
			}
			defer b.Close()
			_ = rawLoop(c, b)
		}()
	}
}

func rawLoop(c, b net.Conn) error {
	cr, cw := bufio.NewReaderSize(c, 4096), bufio.NewWriterSize(c, 4096)
	br, bw := bufio.NewReaderSize(b, 4096), bufio.NewWriterSize(b, 4096)
	for {
		if err := copyHead(bw, cr, nil); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		var n int64 = -1
		if err := copyHead(cw, br, &n); err != nil {
			return err
		}
		if n < 0 {
			return errors.New("response without Content-Length")
		}
		if _, err := io.CopyN(cw, br, n); err != nil {
			return err
		}
		if cr.Buffered() == 0 {
			if err := cw.Flush(); err != nil {
				return err
			}
		}
	}
}

var contentLength = []byte("content-length:")

// copyHead copies one message head up to the blank line, noting the
// Content-Length when asked.
func copyHead(w *bufio.Writer, r *bufio.Reader, n *int64) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if len(line) <= 2 {
			return nil
		}
		if n != nil && len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			v, err := strconv.ParseInt(string(bytes.TrimSpace(line[len(contentLength):])), 10, 64)
			if err != nil {
				return fmt.Errorf("content-length: %w", err)
			}
			*n = v
		}
	}
}
