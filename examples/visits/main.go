// visits is ingot's services sample: bind a PostgreSQL, MySQL or Redis
// service instance to it and every GET / records a visit in that service
// and answers with the count. It finds the service the way buildpacks do:
// DATABASE_URL for the first bound SQL database, else REDIS_URL.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
)

// counter records one visit and returns the total.
type counter func(ctx context.Context) (int64, error)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	count, kind, err := connect()
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if count == nil {
			http.Error(w, "no service bound: bind a postgres, mysql or redis service and restart the app", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		n, err := count(ctx)
		if err != nil {
			http.Error(w, kind+" error: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s ok: %d visits\n", kind, n)
	})
	log.Printf("visits listening on port %s (service: %s)", port, kind)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}

func connect() (counter, string, error) {
	if raw := os.Getenv("DATABASE_URL"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, "", fmt.Errorf("DATABASE_URL: %w", err)
		}
		switch u.Scheme {
		case "postgres", "postgresql":
			db, err := sql.Open("pgx", raw)
			return sqlCounter(db, "CREATE TABLE IF NOT EXISTS visits (at timestamptz NOT NULL DEFAULT now())",
				"INSERT INTO visits DEFAULT VALUES"), "postgres", err
		case "mysql":
			cfg := mysql.NewConfig()
			cfg.User = u.User.Username()
			cfg.Passwd, _ = u.User.Password()
			cfg.Net, cfg.Addr, cfg.DBName = "tcp", u.Host, strings.TrimPrefix(u.Path, "/")
			db, err := sql.Open("mysql", cfg.FormatDSN())
			return sqlCounter(db, "CREATE TABLE IF NOT EXISTS visits (at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
				"INSERT INTO visits () VALUES ()"), "mysql", err
		}
		return nil, "", fmt.Errorf("DATABASE_URL: unsupported scheme %q", u.Scheme)
	}
	if raw := os.Getenv("REDIS_URL"); raw != "" {
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return nil, "", fmt.Errorf("REDIS_URL: %w", err)
		}
		// A Redis binding may only touch keys under its instance's prefix.
		key := keyPrefix() + "visits"
		rdb := redis.NewClient(opt)
		return func(ctx context.Context) (int64, error) { return rdb.Incr(ctx, key).Result() }, "redis", nil
	}
	return nil, "none", nil
}

func sqlCounter(db *sql.DB, create, insert string) counter {
	return func(ctx context.Context) (int64, error) {
		if _, err := db.ExecContext(ctx, create); err != nil {
			return 0, err
		}
		if _, err := db.ExecContext(ctx, insert); err != nil {
			return 0, err
		}
		var n int64
		err := db.QueryRowContext(ctx, "SELECT count(*) FROM visits").Scan(&n)
		return n, err
	}
}

// keyPrefix reads the redis binding's key_prefix from VCAP_SERVICES.
func keyPrefix() string {
	var services map[string][]struct {
		Credentials map[string]any `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(os.Getenv("VCAP_SERVICES")), &services); err != nil {
		return ""
	}
	for _, bindings := range services {
		for _, b := range bindings {
			if p, ok := b.Credentials["key_prefix"].(string); ok {
				return p
			}
		}
	}
	return ""
}
