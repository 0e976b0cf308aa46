package cache_test

import (
	"context"
	"testing"

	"github.com/stokehq/stoke/core/cache"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/core/store/storetest"
)

func seed(b *testing.B, s store.Store) {
	ctx := context.Background()
	id := &entity.Identity{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}
	if err := s.PutIdentity(ctx, id); err != nil {
		b.Fatal(err)
	}
	if err := s.PutAction(ctx, storetest.NewAction("guest", "hello", "function main() {}"), 0); err != nil {
		b.Fatal(err)
	}
}

func benchStores(b *testing.B, run func(b *testing.B, s store.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		db := openDB(b)
		b.Cleanup(func() { db.Close() })
		seed(b, db)
		run(b, db)
	})
	b.Run("cached", func(b *testing.B) {
		c, _ := newCache(b, cache.Config{})
		seed(b, c)
		run(b, c)
	})
}

func BenchmarkIdentity(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Identity(ctx, entity.GuestUUID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAction(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Action(ctx, "guest", "hello"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkActionParallel(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Action(ctx, "guest", "hello"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
