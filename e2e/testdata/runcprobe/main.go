// runcprobe is an app for the runc backend's e2e tests: its endpoints try
// what an isolated app must not be able to do (read other apps' files,
// write the stack, see other processes, bind another app's port) and what
// its limits must stop (memory, pids, disk, CPU), and report the outcome
// as JSON.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type result struct {
	OK    bool   `json:"ok"`
	Err   string `json:"err,omitempty"`
	Data  string `json:"data,omitempty"`
	Count int64  `json:"count,omitempty"`
}

func reply(w http.ResponseWriter, r result) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(r)
}

func errResult(err error) result {
	if err == nil {
		return result{OK: true}
	}
	return result{Err: err.Error()}
}

func main() {
	allocMB := flag.Int("alloc-mb", 0, "allocate and touch this many MB at start (to be OOM-killed)")
	secret := flag.String("secret", "", "write this to $HOME/secret.txt at start")
	forkbomb := flag.Bool("forkbomb", false, "start sleeping children until it fails, print the count as JSON, kill them")
	flag.Parse()

	if *forkbomb {
		runForkBomb()
		return
	}
	if *allocMB > 0 {
		var hold [][]byte
		for i := 0; i < *allocMB; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hold = append(hold, b)
		}
		fmt.Printf("allocated %d MB and survived\n", len(hold))
	}
	if *secret != "" {
		if err := os.WriteFile(filepath.Join(os.Getenv("HOME"), "secret.txt"), []byte(*secret), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "write secret:", err)
			os.Exit(1)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "runcprobe on port %s\n", os.Getenv("PORT"))
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		reply(w, result{OK: true, Data: fmt.Sprintf("uid=%d pid=%d host=%s home=%s port=%s", os.Getuid(), os.Getpid(), host, os.Getenv("HOME"), os.Getenv("PORT"))})
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("path")
		fi, err := os.Stat(p)
		if err != nil {
			reply(w, errResult(err))
			return
		}
		if fi.IsDir() {
			ents, err := os.ReadDir(p)
			if err != nil {
				reply(w, errResult(err))
				return
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			reply(w, result{OK: true, Data: strings.Join(names, " ")})
			return
		}
		data, err := os.ReadFile(p)
		if err != nil {
			reply(w, errResult(err))
			return
		}
		reply(w, result{OK: true, Data: string(data)})
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		reply(w, errResult(os.WriteFile(r.URL.Query().Get("path"), []byte("written by runcprobe\n"), 0o644)))
	})
	mux.HandleFunc("/ps", func(w http.ResponseWriter, r *http.Request) {
		ents, err := os.ReadDir("/proc")
		if err != nil {
			reply(w, errResult(err))
			return
		}
		var procs []string
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			procs = append(procs, e.Name()+":"+strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " "))
		}
		reply(w, result{OK: true, Count: int64(len(procs)), Data: strings.Join(procs, "\n")})
	})
	mux.HandleFunc("/bind", func(w http.ResponseWriter, r *http.Request) {
		l, err := net.Listen("tcp", ":"+r.URL.Query().Get("port"))
		if err == nil {
			l.Close()
		}
		reply(w, errResult(err))
	})
	mux.HandleFunc("/fill", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		p := filepath.Join(os.Getenv("HOME"), "fill.dat")
		written, err := fill(p, mb)
		_ = os.Remove(p)
		res := errResult(err)
		res.Count = written
		reply(w, res)
	})
	mux.HandleFunc("/forkbomb", func(w http.ResponseWriter, r *http.Request) {
		self, err := os.Executable()
		if err != nil {
			reply(w, errResult(err))
			return
		}
		out, err := exec.Command(self, "-forkbomb").Output()
		if err != nil {
			reply(w, result{Err: fmt.Sprintf("fork bomb child: %v: %s", err, out)})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	})
	mux.HandleFunc("/burn", func(w http.ResponseWriter, r *http.Request) {
		secs, _ := strconv.Atoi(r.URL.Query().Get("seconds"))
		until := time.Now().Add(time.Duration(secs) * time.Second)
		n := 2 * runtime.NumCPU()
		for i := 0; i < n; i++ {
			go func() {
				x := uint64(1)
				for time.Now().Before(until) {
					for j := 0; j < 1e6; j++ {
						x = x*6364136223846793005 + 1
					}
				}
				_ = x
			}()
		}
		reply(w, result{OK: true, Count: int64(n)})
	})
	srv := &http.Server{Addr: ":" + os.Getenv("PORT"), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// fill writes up to mb MB to path and returns how much it wrote.
func fill(path string, mb int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	var n int64
	for i := 0; i < mb; i++ {
		k, err := f.Write(buf)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, f.Sync()
}

// runForkBomb starts `sleep` children until the kernel refuses, prints
// {"ok":..,"err":..,"count":N} and kills them.
func runForkBomb() {
	var (
		mu    sync.Mutex
		procs []*os.Process
		last  error
	)
	for i := 0; i < 100000; i++ {
		cmd := exec.Command("sleep", "120")
		if err := cmd.Start(); err != nil {
			last = err
			break
		}
		mu.Lock()
		procs = append(procs, cmd.Process)
		mu.Unlock()
	}
	res := result{OK: last == nil, Count: int64(len(procs))}
	if last != nil {
		res.Err = last.Error()
		if errors.Is(last, syscall.EAGAIN) {
			res.Data = "EAGAIN"
		}
	}
	for _, p := range procs {
		_ = p.Kill()
		_, _ = p.Wait()
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}
