package wasm

import (
	"context"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// The seed corpus is in testdata/fuzz; `go test` runs it, and
// `go test -fuzz FuzzRun ./backends/wasm` explores further.

func FuzzInit(f *testing.F) {
	f.Add(initBodyFor(f, "echo", map[string]string{"A": "b"}))
	f.Fuzz(func(t *testing.T, body []byte) {
		x := create(t, shared, sdk.Spec{MemoryMB: 64})
		x.logs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := x.conn.Init(ctx, body)
		if err != nil {
			t.Fatalf("init %q: %v", body, err)
		}
		switch r.Status {
		case 200, 400, 403, 502:
		default:
			t.Fatalf("init %q: status %d", body, r.Status)
		}
		if r.Status != 200 {
			errorOf(t, r)
		}
	})
}

func FuzzRun(f *testing.F) {
	f.Add(runBody(f, `{"name":"x"}`))
	x := started(f, shared, "echo", sdk.Spec{MemoryMB: 64})
	x.logs.Close()
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := x.conn.Run(ctx, body)
		if err != nil {
			t.Fatalf("run %q: %v", body, err)
		}
		switch r.Status {
		case 200:
			if !looksJSON(r.Body) {
				t.Fatalf("run %q: 200 with %q", body, r.Body)
			}
		case 400, 502:
			errorOf(t, r)
		default:
			t.Fatalf("run %q: status %d", body, r.Status)
		}
	})
}
