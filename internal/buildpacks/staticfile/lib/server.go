// Command server is the staticfile buildpack's file server. The buildpack
// compiles this single file with the host's Go at staging time (it imports
// only the standard library) and the droplet runs it:
//
//	server -root <dir>        (listens on $PORT)
//
// It serves GET and HEAD for the files under root: index.html for a
// directory, 404 for anything missing, no directory listings, and never a
// hidden file (a path element starting with "."), the Staticfile, a
// manifest or a Procfile. Symbolic links leading out of root are not
// followed (os.Root).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"
)

func main() {
	root := flag.String("root", ".", "directory to serve")
	flag.Parse()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	r, err := os.OpenRoot(*root)
	if err != nil {
		log.Fatalf("staticfile: %v", err)
	}
	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           &handler{root: r},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("staticfile: serving %s on port %s\n", *root, port)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("staticfile: %v", err)
	}
}

type handler struct {
	root *os.Root
}

// hidden reports whether a cleaned, slash-separated path names something
// that is never served.
func hidden(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if el == "." {
			continue
		}
		if strings.HasPrefix(el, ".") {
			return true
		}
		switch strings.ToLower(el) {
		case "staticfile", "staticfile.auth", "manifest.yml", "manifest.yaml", "procfile":
			return true
		}
	}
	return false
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	upath := r.URL.Path
	if !strings.HasPrefix(upath, "/") {
		upath = "/" + upath
	}
	name := strings.TrimPrefix(path.Clean(upath), "/")
	if name == "" {
		name = "."
	}
	if hidden(name) {
		http.NotFound(w, r)
		return
	}
	fi, err := h.root.Stat(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(upath, "/") {
			target := upath + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		name = path.Join(name, "index.html")
	}
	h.serveFile(w, r, name)
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, err := h.root.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}
