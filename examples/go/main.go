// go-hello is ingot's Go sample app: it answers on $PORT and tells which
// instance answered, so tests can count instances and check stickiness.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	index := os.Getenv("CF_INSTANCE_INDEX")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from ingot (go) instance %s\n", index)
	})
	mux.HandleFunc("GET /index", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, index)
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"CF_INSTANCE_INDEX": index,
			"CF_INSTANCE_GUID":  os.Getenv("CF_INSTANCE_GUID"),
		})
	})
	mux.HandleFunc("GET /session", func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if c, err := r.Cookie("JSESSIONID"); err == nil {
			id = c.Value
		} else {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: id, Path: "/", HttpOnly: true})
		}
		fmt.Fprintf(w, "session %s instance %s\n", id, index)
	})

	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("go-hello instance %s listening on port %s", index, port)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
