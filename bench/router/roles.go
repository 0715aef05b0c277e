package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/router"
)

// The harness re-executes itself in one of these roles, chosen by the
// environment, so the backend and the router are processes of their own
// whose CPU time can be read from /proc.
const (
	envRole       = "INGOT_BENCH_ROLE"
	envNATS       = "INGOT_BENCH_NATS"
	envCPUProfile = "INGOT_BENCH_CPUPROFILE"
	envTLSCert    = "INGOT_BENCH_TLS_CERT"
	envTLSKey     = "INGOT_BENCH_TLS_KEY"
	envKeepalive  = "INGOT_BENCH_KEEPALIVE"
	envNoAccess   = "INGOT_BENCH_NO_ACCESS_LOG"
	roleBackend   = "backend"
	roleRouter    = "router"
)

// backendBody is what the backend answers: small, like a health check or a
// tiny JSON API response.
const backendBody = "hello from the ingot bench backend\n"

// runRole runs the role named in the environment and reports whether there
// was one.
func runRole() bool {
	switch os.Getenv(envRole) {
	case roleBackend:
		exitOn(runBackend())
	case roleRouter:
		exitOn(runRouter())
	case roleRawProxy:
		exitOn(runRawProxy())
	default:
		return false
	}
	return true
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// announce prints the bound address as the first stdout line, which the
// harness waits for.
func announce(ln net.Listener) { fmt.Printf("READY %s\n", ln.Addr()) }

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

// runBackend is a tiny Go HTTP server on one OS thread's worth of Go.
func runBackend() error {
	runtime.GOMAXPROCS(1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("backend listen: %w", err)
	}
	body := []byte(backendBody)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})}
	announce(ln)
	ctx, stop := signalContext()
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("backend serve: %w", err)
	}
	return nil
}

// runRouter runs ingot's router against the harness's NATS server, with
// access log lines published on the bus as in production.
func runRouter() error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := bus.Connect(bus.Options{URL: os.Getenv(envNATS), Name: "bench-router"}, log)
	if err != nil {
		return fmt.Errorf("router bus: %w", err)
	}
	defer b.Close()
	cfg := router.Config{ListenAddr: "127.0.0.1:0"}
	if n, err := strconv.Atoi(os.Getenv(envKeepalive)); err == nil && n > 0 {
		cfg.MaxIdleConnsPerEndpoint = n
	}
	if cert := os.Getenv(envTLSCert); cert != "" {
		cfg.TLSAddr = "127.0.0.1:0"
		cfg.Certificates = []router.CertFiles{{CertFile: cert, KeyFile: os.Getenv(envTLSKey)}}
	}
	deps := router.Deps{Bus: b, Logs: logs.NewEmitter(b, log)}
	if os.Getenv(envNoAccess) != "" {
		deps.Logs = nil
	}
	rt, err := router.New(cfg, deps, log)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if path := os.Getenv(envCPUProfile); path != "" {
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
	fmt.Printf("READY %s %s\n", rt.Addr(), rt.TLSAddr())
	ctx, stop := signalContext()
	defer stop()
	return rt.Run(ctx)
}
