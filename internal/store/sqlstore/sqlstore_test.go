package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/store"
	"github.com/ingot-paas/ingot/internal/store/sqlstore"
	"github.com/ingot-paas/ingot/internal/store/storetest"
)

const defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ingot.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLite(t) })
}

func TestSQLiteMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: ":memory:"})
		if err != nil {
			t.Fatalf("open memory sqlite: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// postgresDSN returns the test server's DSN, or skips the test.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("INGOT_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultPostgresDSN
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Skipf("postgres not reachable at %s: %v", dsn, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Skipf("postgres not reachable at %s: %v", dsn, err)
	}
	return dsn
}

// openPostgres opens a Store in a fresh schema with a random name, dropped
// in Cleanup.
func openPostgres(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "ingot_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	s, err := sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: withSearchPath(t, dsn, schema)})
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// keyword/value form
		return dsn + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openPostgres(t, dsn) })
}

func TestOpenValidates(t *testing.T) {
	ctx := t.Context()
	for _, cfg := range []sqlstore.Config{
		{},
		{Driver: "mysql", DSN: "x"},
		{Driver: sqlstore.DriverSQLite},
		{Driver: sqlstore.DriverPostgres, DSN: "postgres://x", MaxOpenConns: -1},
	} {
		if _, err := sqlstore.Open(ctx, cfg); !errors.Is(err, sqlstore.ErrConfig) {
			t.Errorf("Open(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "dir", "ingot.db")
	s, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	o := &store.Org{Meta: store.Meta{GUID: uuid.NewString()}, Name: "persist"}
	if err := s.Orgs().Create(ctx, o); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s, err = sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Orgs().Get(ctx, o.GUID)
	if err != nil {
		t.Fatalf("get after reopen: %v", err)
	}
	if got.Name != "persist" || !got.CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("after reopen got %+v, want %+v", got, o)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	if n < 1 {
		t.Fatalf("schema_migrations has %d rows", n)
	}
	var mode string
	if err := s.DB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatalf("journal mode: %v", err)
	}
	if !strings.EqualFold(mode, "wal") {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

func TestInTxPanicRollsBack(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	o := &store.Org{Meta: store.Meta{GUID: uuid.NewString()}, Name: "panicky"}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("InTx swallowed the panic")
			}
		}()
		_ = s.InTx(ctx, func(tx store.Store) error {
			if err := tx.Orgs().Create(ctx, o); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, err := s.Orgs().Get(ctx, o.GUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org written before panic: got %v, want ErrNotFound", err)
	}
	// The single SQLite connection was released.
	if err := s.Orgs().Create(ctx, &store.Org{Meta: store.Meta{GUID: uuid.NewString()}, Name: "after"}); err != nil {
		t.Fatalf("create after panic: %v", err)
	}
}

func TestConcurrentOpenPostgresMigrates(t *testing.T) {
	dsn := postgresDSN(t)
	first := openPostgres(t, dsn)
	// A second store on an already-migrated schema applies nothing and works.
	var schema string
	if err := first.DB().QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatalf("current schema: %v", err)
	}
	errc := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			s, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: withSearchPath(t, dsn, schema)})
			if err != nil {
				errc <- err
				return
			}
			defer s.Close()
			errc <- s.Orgs().Create(context.Background(), &store.Org{Meta: store.Meta{GUID: uuid.NewString()}, Name: fmt.Sprint("o", i)})
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errc; err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
}

func BenchmarkAppCreate(b *testing.B) {
	s := openSQLite(b)
	ctx := context.Background()
	space := uuid.NewString()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := &store.App{Meta: store.Meta{GUID: uuid.NewString()}, Name: fmt.Sprintf("app-%d", i), SpaceGUID: space,
			State: store.AppStarted, Env: map[string]string{"K": "V"}}
		if err := s.Apps().Create(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppList(b *testing.B) {
	s := openSQLite(b)
	ctx := context.Background()
	spaces := []string{uuid.NewString(), uuid.NewString()}
	for i := 0; i < 1000; i++ {
		a := &store.App{Meta: store.Meta{GUID: uuid.NewString()}, Name: fmt.Sprintf("app-%d", i), SpaceGUID: spaces[i%2],
			State: store.AppStarted, Env: map[string]string{"K": "V"}}
		if err := s.Apps().Create(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs, err := s.Apps().List(ctx, store.ListOptions{SpaceGUIDs: spaces[:1]})
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != 500 {
			b.Fatalf("listed %d apps, want 500", len(rs))
		}
	}
}
