// Command router benchmarks ingot's router against a direct connection to
// the backend, nginx as a reverse proxy with an equivalent config and,
// optionally, Cloud Foundry's gorouter, with wrk in interleaved rounds. It
// prints req/s, p50/p99 latency and the proxy process's CPU time per
// request, with ratios to direct and to nginx. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

const (
	benchHost = "bench.example.com"
	benchApp  = "6f0c1e0a-3d1b-4f6e-9a57-3c2b1d0e9f8a"
)

type options struct {
	duration   time.Duration
	rounds     int
	conns      []int
	nginx      string
	nginxLog   bool
	gorouter   string
	cpuProfile string
	only       string
	tls        bool
	baseline   string
	raw        bool
	keepalive  int
	routerLog  bool
	rawProfile string
}

// target is one thing wrk is pointed at.
type target struct {
	name string
	url  string
	host string
	proc *proc // the proxy process, nil for direct
}

type sample struct {
	wrkResult
	cpuPerReq time.Duration // 0 when there is no proxy process
}

func main() {
	if runRole() {
		return
	}
	var o options
	var conns string
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "wrk duration of each run (whole seconds)")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; the table shows medians")
	flag.StringVar(&conns, "conns", "32,256", "comma-separated wrk connection counts")
	flag.StringVar(&o.nginx, "nginx", "nginx", "nginx binary (skipped with a message when missing; \"\" to skip)")
	flag.BoolVar(&o.nginxLog, "nginx-access-log", true, "give nginx a buffered access log, as the router ships one line per request")
	flag.StringVar(&o.gorouter, "gorouter", "", "path of a gorouter binary to include (optional)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of ingot's router for the whole run to this file")
	flag.BoolVar(&o.tls, "tls", false, "also measure ingot and nginx terminating TLS (targets ingot-tls, nginx-tls; self-signed certificate)")
	flag.StringVar(&o.baseline, "baseline", "", "a binary of this harness built from an older commit: its router runs as target \"baseline\", interleaved with the current one")
	flag.BoolVar(&o.raw, "rawgo", false, "also measure rawgo: a featureless Go proxy loop without net/http, the floor for a purpose-built server loop")
	flag.IntVar(&o.keepalive, "keepalive", 64, "idle keep-alive connections to the backend: nginx's upstream keepalive and the router's MaxIdleConnsPerEndpoint (a -baseline build older than this flag keeps its default, 64)")
	flag.BoolVar(&o.routerLog, "router-access-log", true, "let ingot's router publish its access log lines on the bus (false: no access log, to measure what it costs)")
	flag.StringVar(&o.rawProfile, "rawgo-cpuprofile", "", "write a CPU profile of the rawgo loop for the whole run to this file")
	flag.StringVar(&o.only, "only", "", "comma-separated targets to run (direct,ingot,nginx,gorouter); default all")
	flag.Parse()
	for _, c := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			fatalf("bad -conns %q", conns)
		}
		o.conns = append(o.conns, n)
	}
	if o.duration < time.Second || o.rounds < 1 {
		fatalf("-duration must be at least 1s and -rounds at least 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/router: "+format+"\n", args...)
	os.Exit(1)
}

func wanted(o options, name string) bool {
	return o.only == "" || slices.Contains(strings.Split(o.only, ","), name)
}

func run(ctx context.Context, o options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk not found (apt-get install -y wrk): %w", err)
	}
	dir, err := os.MkdirTemp("", "ingot-bench-router-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	nats, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nats.Shutdown()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := bus.Connect(bus.Options{URL: nats.URL(), Name: "bench"}, log)
	if err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	defer b.Close()

	backend, err := startSelf("backend", envRole+"="+roleBackend)
	if err != nil {
		return err
	}
	defer backend.stop()
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()

	// Register the backend the way a DEA does, and keep refreshing it.
	regCtx, regCancel := context.WithCancel(ctx)
	var regWG sync.WaitGroup
	defer func() { regCancel(); regWG.Wait() }()
	if err := register(b, backend.addr); err != nil {
		return err
	}
	regWG.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-regCtx.Done():
				return
			case <-t.C:
				_ = register(b, backend.addr)
			}
		}
	})

	var certs *certFiles
	if o.tls {
		if certs, err = writeSelfSigned(dir, benchHost); err != nil {
			return err
		}
	}
	targets := []target{{name: "direct", url: "http://" + backend.addr + "/"}}
	var extra []target // TLS targets, appended after the plain ones
	if wanted(o, "ingot") {
		env := []string{envRole + "=" + roleRouter, envNATS + "=" + nats.URL(), envKeepalive + "=" + strconv.Itoa(o.keepalive)}
		if certs != nil {
			env = append(env, envTLSCert+"="+certs.cert, envTLSKey+"="+certs.key)
		}
		if o.cpuProfile != "" {
			env = append(env, envCPUProfile+"="+o.cpuProfile)
		}
		if !o.routerLog {
			env = append(env, envNoAccess+"=1")
		}
		rt, err := startSelf("ingot router", env...)
		if err != nil {
			return err
		}
		procs = append(procs, rt)
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = waitHTTP(wctx, "http://"+rt.addr+"/", benchHost)
		cancel()
		if err != nil {
			return fmt.Errorf("ingot router: %w", err)
		}
		targets = append(targets, target{name: "ingot", url: "http://" + rt.addr + "/", host: benchHost, proc: rt})
		if rt.extra != "" {
			extra = append(extra, target{name: "ingot-tls", url: "https://" + rt.extra + "/", host: benchHost, proc: rt})
		}
	}
	if o.baseline != "" && wanted(o, "baseline") {
		cmd := exec.Command(o.baseline)
		cmd.Env = append(os.Environ(), envRole+"="+roleRouter, envNATS+"="+nats.URL(), envKeepalive+"="+strconv.Itoa(o.keepalive))
		bl, err := startReady("baseline router", cmd)
		if err != nil {
			return err
		}
		procs = append(procs, bl)
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = waitHTTP(wctx, "http://"+bl.addr+"/", benchHost)
		cancel()
		if err != nil {
			return fmt.Errorf("baseline router: %w", err)
		}
		targets = append(targets, target{name: "baseline", url: "http://" + bl.addr + "/", host: benchHost, proc: bl})
	}
	if o.raw && wanted(o, "rawgo") {
		env := []string{envRole + "=" + roleRawProxy, envBackend + "=" + backend.addr}
		if o.rawProfile != "" {
			env = append(env, envRawProfile+"="+o.rawProfile)
		}
		rp, err := startSelf("raw go proxy", env...)
		if err != nil {
			return err
		}
		procs = append(procs, rp)
		targets = append(targets, target{name: "rawgo", url: "http://" + rp.addr + "/", host: benchHost, proc: rp})
	}
	if wanted(o, "nginx") {
		if t, ok := nginxTarget(ctx, o, dir, backend.addr, certs); ok {
			procs = append(procs, t.proc)
			targets = append(targets, t)
			if t.proc.extra != "" {
				extra = append(extra, target{name: "nginx-tls", url: "https://" + t.proc.extra + "/", host: benchHost, proc: t.proc})
			}
		}
	}
	if o.gorouter != "" && wanted(o, "gorouter") {
		gdir := dir + "/gorouter"
		if err := os.MkdirAll(gdir, 0o755); err != nil {
			return err
		}
		gr, err := startGorouter(ctx, o.gorouter, gdir, nats.URL())
		if err != nil {
			fmt.Fprintf(os.Stderr, "skipping gorouter: %v\n", err)
		} else {
			procs = append(procs, gr)
			targets = append(targets, target{name: "gorouter", url: "http://" + gr.addr + "/", host: benchHost, proc: gr})
		}
	}
	if !wanted(o, "direct") {
		targets = targets[1:]
	}
	targets = append(targets, extra...)

	fmt.Printf("wrk -t1 -d%s keep-alive; backend GOMAXPROCS=1; %d round(s); %d CPUs\n",
		o.duration, o.rounds, numCPU())
	// Warm every target up (connection pools, JIT-free but caches).
	for _, t := range targets {
		if _, err := runWrk(ctx, t.url, t.host, o.conns[0], time.Second); err != nil {
			return fmt.Errorf("warm-up %s: %w", t.name, err)
		}
	}
	samples := map[string][]sample{} // by target/conns
	for round := range o.rounds {
		for _, c := range o.conns {
			// Rotate the order each round so no target always runs first.
			for i := range targets {
				t := targets[(i+round)%len(targets)]
				s, err := measure(ctx, t, c, o.duration)
				if err != nil {
					return err
				}
				key := t.name + "/" + strconv.Itoa(c)
				samples[key] = append(samples[key], s)
				fmt.Printf("  round %d c%-4d %-9s %9.0f req/s  p50 %-8s p99 %-8s cpu/req %s%s\n", round+1, c, t.name,
					s.rps, fmtDur(s.p50), fmtDur(s.p99), fmtCPU(s.cpuPerReq), errNote(s))
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	printTable(targets, o.conns, samples)
	return nil
}

func nginxTarget(ctx context.Context, o options, dir, backend string, certs *certFiles) (target, bool) {
	if o.nginx == "" {
		fmt.Println("nginx: skipped (-nginx \"\")")
		return target{}, false
	}
	bin, err := exec.LookPath(o.nginx)
	if err != nil {
		fmt.Printf("nginx: not found (%v); install it with `apt-get install -y nginx-light` to compare. Skipping nginx.\n", err)
		return target{}, false
	}
	ndir := dir + "/nginx"
	if err := os.MkdirAll(ndir, 0o755); err != nil {
		fmt.Printf("nginx: %v; skipping nginx.\n", err)
		return target{}, false
	}
	p, err := startNginx(ctx, bin, ndir, backend, o.nginxLog, o.keepalive, certs)
	if err != nil {
		fmt.Printf("nginx: could not start (%v); skipping nginx.\n", err)
		return target{}, false
	}
	return target{name: "nginx", url: "http://" + p.addr + "/", host: benchHost, proc: p}, true
}

func register(b *bus.NATS, backendAddr string) error {
	h, p, err := net.SplitHostPort(backendAddr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return err
	}
	return b.PublishJSON(bus.SubjectRouterRegister, &messages.RouterRegister{
		Host: h, Port: uint16(port), URIs: []string{benchHost}, App: benchApp,
		PrivateInstanceID: "bench-instance-0", PrivateInstanceIndex: "0",
	})
}

// measure runs wrk once and reads the proxy's CPU time around it.
func measure(ctx context.Context, t target, conns int, d time.Duration) (sample, error) {
	var before time.Duration
	var err error
	if t.proc != nil {
		if before, err = cpuTime(t.proc.pid()); err != nil {
			return sample{}, fmt.Errorf("%s cpu: %w", t.name, err)
		}
	}
	r, err := runWrk(ctx, t.url, t.host, conns, d)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", t.name, err)
	}
	s := sample{wrkResult: r}
	if t.proc != nil {
		after, err := cpuTime(t.proc.pid())
		if err != nil {
			return sample{}, fmt.Errorf("%s cpu: %w", t.name, err)
		}
		s.cpuPerReq = (after - before) / time.Duration(r.requests)
	}
	return s, nil
}

func numCPU() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}
