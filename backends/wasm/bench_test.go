package wasm

import (
	"context"
	"fmt"
	"testing"

	"github.com/stokehq/stoke/sdk"
)

// BenchmarkRunEcho is the fresh-instance path: instantiate, run, close.
func BenchmarkRunEcho(b *testing.B) {
	x := started(b, shared, "echo", sdk.Spec{MemoryMB: 64})
	x.logs.Close()
	body := runBody(b, `{"name":"bench"}`)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r, err := x.conn.Run(ctx, body); err != nil || r.Status != 200 {
			b.Fatalf("%v %+v", err, r)
		}
	}
}

// BenchmarkRunGoLoop is a warm Go GOOS=wasip1 guest in loop mode.
func BenchmarkRunGoLoop(b *testing.B) {
	x := started(b, shared, "hello-go", sdk.Spec{MemoryMB: 128, Annotations: map[string]string{ModeAnnotation: ModeLoop}})
	x.logs.Close()
	body := runBody(b, `{"name":"bench"}`)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r, err := x.conn.Run(ctx, body); err != nil || r.Status != 200 {
			b.Fatalf("%v %+v", err, r)
		}
	}
}

// BenchmarkPrepare compiles a small module on a fresh backend each time
// (the in-memory cache of a backend would make later calls free).
func BenchmarkPrepare(b *testing.B) {
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		be, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		if err := be.Prepare(ctx, Kind, fixtures["count"]); err != nil {
			b.Fatal(err)
		}
		be.Close(ctx)
	}
}

// BenchmarkColdStart is create + init of a prepared module + first run.
func BenchmarkColdStart(b *testing.B) {
	ctx := context.Background()
	if err := shared.Prepare(ctx, Kind, fixtures["echo"]); err != nil {
		b.Fatal(err)
	}
	init := initBodyFor(b, "echo", nil)
	body := runBody(b, `{}`)
	b.ReportAllocs()
	for b.Loop() {
		sb, err := shared.Create(ctx, &sdk.Spec{Kind: Kind, MemoryMB: 64})
		if err != nil {
			b.Fatal(err)
		}
		c, _ := shared.Dial(sb)
		if r, err := c.Init(ctx, init); err != nil || r.Status != 200 {
			b.Fatal(fmt.Sprint(err, r))
		}
		if r, err := c.Run(ctx, body); err != nil || r.Status != 200 {
			b.Fatal(fmt.Sprint(err, r))
		}
		shared.Destroy(ctx, sb.ID)
	}
}
