// binary-hello is ingot's sample for the binary buildpack: compile it
// (GOOS/GOARCH of the DEA hosts) into build/server and push build/ with
// -b binary_buildpack -c ./server (see manifest.yml).
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
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
		fmt.Fprintf(w, "Hello from ingot (binary) instance %s\n", index)
	})
	mux.HandleFunc("GET /index", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, index)
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("binary-hello instance %s listening on port %s", index, port)
	log.Fatal(srv.ListenAndServe())
}
