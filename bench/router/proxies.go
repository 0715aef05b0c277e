package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// freePort returns a loopback address nothing listens on right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// nginxConf is a reverse proxy equivalent to ingot's router for this
// benchmark: one worker (master_process off, so the worker is the process
// whose CPU is measured), HTTP/1.1 keep-alive to the upstream with -keepalive
// (64) idle connections, the forwarding headers the router adds, and (unless turned
// off) a buffered access log, as the router ships an access line per
// request.
const nginxConf = `worker_processes 1;
master_process off;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  %[4]s
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream backend {
    server %[2]s;
    keepalive %[6]d;
  }
  server {
    listen %[3]s;
    %[5]s
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Vcap-Request-Id $request_id;
      proxy_set_header X-Request-Start $msec;
      proxy_buffering off;
    }
  }
}
`

// startNginx writes a config under dir and runs nginx in the foreground.
func startNginx(ctx context.Context, bin, dir, backend string, accessLog bool, keepalive int, tlsFiles *certFiles) (*proc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	tlsLines, tlsAddr := "", ""
	if tlsFiles != nil {
		if tlsAddr, err = freePort(); err != nil {
			return nil, err
		}
		tlsLines = "listen " + tlsAddr + " ssl;\n    ssl_certificate " + tlsFiles.cert + ";\n    ssl_certificate_key " + tlsFiles.key + ";"
	}
	logLine := "access_log off;"
	if accessLog {
		logLine = "access_log " + filepath.Join(dir, "access.log") + " combined buffer=64k flush=1s;"
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, backend, addr, logLine, tlsLines, keepalive)), 0o644); err != nil {
		return nil, err
	}
	p, err := start("nginx", exec.Command(bin, "-p", dir, "-c", conf))
	if err != nil {
		return nil, err
	}
	p.addr, p.extra = addr, tlsAddr
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := waitHTTP(wctx, "http://"+addr+"/", "bench.example.com"); err != nil {
		p.stop()
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return nil, fmt.Errorf("nginx: %w\n%s", err, log)
	}
	return p, nil
}

// gorouterConf is a minimal gorouter config: NATS from the harness,
// keep-alive to backends, access log discarded to a file, logging at error.
const gorouterConf = `---
status:
  host: 127.0.0.1
  port: %[3]d
  user: bench
  pass: bench
nats:
  hosts:
  - hostname: 127.0.0.1
    port: %[2]d
address: 127.0.0.1
port: %[1]d
index: 0
logging:
  level: error
  syslog: ""
access_log:
  file: %[4]s/access.log
balancing_algorithm: round-robin
disable_keep_alives: false
max_idle_conns: 1000
max_idle_conns_per_host: 64
start_response_delay_interval: 1s
droplet_stale_threshold: 120s
prune_stale_droplets_interval: 30s
`

// startGorouter runs a gorouter binary built outside the repo.
func startGorouter(ctx context.Context, bin, dir, natsURL string) (*proc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	status, err := freePort()
	if err != nil {
		return nil, err
	}
	_, p, _ := net.SplitHostPort(addr)
	_, sp, _ := net.SplitHostPort(status)
	_, np, err := net.SplitHostPort(natsHostPort(natsURL))
	if err != nil {
		return nil, fmt.Errorf("nats url %q: %w", natsURL, err)
	}
	port, _ := strconv.Atoi(p)
	statusPort, _ := strconv.Atoi(sp)
	natsPort, _ := strconv.Atoi(np)
	conf := filepath.Join(dir, "gorouter.yml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(gorouterConf, port, natsPort, statusPort, dir)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = nil, nil
	logf, err := os.Create(filepath.Join(dir, "gorouter.log"))
	if err == nil {
		cmd.Stdout, cmd.Stderr = logf, logf
		defer logf.Close()
	}
	pr, err := start("gorouter", cmd)
	if err != nil {
		return nil, err
	}
	pr.addr = addr
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitHTTP(wctx, "http://"+addr+"/", "bench.example.com"); err != nil {
		pr.stop()
		return nil, fmt.Errorf("gorouter (log in %s): %w", dir, err)
	}
	return pr, nil
}

func natsHostPort(u string) string {
	if len(u) > 7 && u[:7] == "nats://" {
		return u[7:]
	}
	return u
}
