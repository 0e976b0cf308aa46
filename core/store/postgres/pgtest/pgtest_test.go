package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stokehq/stoke/core/store/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func query(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestDatabase: each call gives a distinct, reachable database.
func TestDatabase(t *testing.T) {
	a, b := pgtest.Database(t), pgtest.Database(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	if da, db := query(t, a), query(t, b); da == db {
		t.Errorf("both URLs reach database %s", da)
	}
}

// TestStart: a private server is reachable until stop, and not after.
func TestStart(t *testing.T) {
	url, stop := pgtest.Start(t)
	query(t, url)
	stop()
	conn, err := pgx.Connect(context.Background(), url)
	if err == nil {
		conn.Close(context.Background())
		t.Fatal("server still reachable after stop")
	}
	stop() // idempotent
}
