package postgres_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/core/store/postgres/pgtest"
	"github.com/stokehq/stoke/core/store/sqlite"
	"github.com/stokehq/stoke/core/store/storetest"
)

// stores are the implementations the benchmarks compare. The test server
// runs with fsync off; the sqlite store never fsyncs a commit either (WAL,
// synchronous=NORMAL), so both measure the work without the disk.
var stores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"postgres", func(b *testing.B) store.Store { return openURL(b, pgtest.Database(b)) }},
	{"sqlite", func(b *testing.B) store.Store {
		db, err := sqlite.Open(filepath.Join(b.TempDir(), "stoke.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}},
}

// BenchmarkAction: the cache-miss read on the critical path.
func BenchmarkAction(b *testing.B) {
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			db := s.open(b)
			if err := db.PutAction(b.Context(), storetest.NewAction("ns", "hello", "function main() {}"), 0); err != nil {
				b.Fatal(err)
			}
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.Action(b.Context(), "ns", "hello"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := db.Action(b.Context(), "ns", "hello"); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkPutActivations256: one batch of the activation recorder.
func BenchmarkPutActivations256(b *testing.B) {
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			db := s.open(b)
			batch := make([]*entity.Activation, 256)
			n := 0
			for b.Loop() {
				for i := range batch {
					batch[i] = storetest.NewActivation("ns", "hello", fmt.Sprintf("%032x", n), int64(n))
					n++
				}
				if err := db.PutActivations(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
		})
	}
}
