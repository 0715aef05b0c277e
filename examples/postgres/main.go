// postgres-hello is ingot's database sample: bind a PostgreSQL service
// instance to it and every request to / records a visit in the database
// named by DATABASE_URL and answers with the count.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	var pool *pgxpool.Pool
	if url := os.Getenv("DATABASE_URL"); url != "" {
		var err error
		if pool, err = pgxpool.New(context.Background(), url); err != nil {
			log.Fatalf("database url: %v", err)
		}
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if pool == nil {
			http.Error(w, "no database bound: bind a postgres service and restart the app", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var visits int64
		_, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS visits (at timestamptz NOT NULL DEFAULT now())`)
		if err == nil {
			_, err = pool.Exec(ctx, `INSERT INTO visits DEFAULT VALUES`)
		}
		if err == nil {
			err = pool.QueryRow(ctx, `SELECT count(*) FROM visits`).Scan(&visits)
		}
		if err != nil {
			http.Error(w, "database error: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "database ok: %d visits\n", visits)
	})
	log.Printf("postgres-hello listening on port %s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
