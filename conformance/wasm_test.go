package conformance_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/conformance"
	"github.com/stokehq/stoke/sdk"
)

var (
	fxOnce sync.Once
	fxWasm conformance.Fixtures
	fxErr  error
)

// wasmFixtures compiles the built-in fixtures once per test binary.
func wasmFixtures(t *testing.T) conformance.Fixtures {
	t.Helper()
	fxOnce.Do(func() { fxWasm, fxErr = conformance.BuiltinFixtures("wasm") })
	if fxErr != nil {
		t.Fatal(fxErr)
	}
	return fxWasm
}

func newWasm(t *testing.T) *wasm.Backend {
	t.Helper()
	b, err := wasm.New(wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return b
}

// knownGaps are cases the real wasm backend fails today, reported to its
// owner; they are logged, not failed, and say so once they pass.
var knownGaps = map[string]string{}

// wantOnly wants the report to fail exactly the IDs in fail and to pass
// every MUST case not in it, except MUST cases gated on a capability or
// feature the target does not declare.
func wantOnly(t *testing.T, rep *conformance.Report, fail ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range fail {
		want[id] = true
	}
	for _, r := range rep.Results {
		if gap, ok := knownGaps[r.ID]; ok && !want[r.ID] {
			if r.Status == conformance.Fail {
				t.Logf("known gap %s: %s (%s)", r.ID, gap, r.Why)
			} else {
				t.Logf("known gap %s now %s: drop it from knownGaps", r.ID, r.Status)
			}
			continue
		}
		switch {
		case !want[r.ID] && r.Status == conformance.Skip && strings.Contains(r.Why, "not declared"):
		case want[r.ID] && r.Status != conformance.Fail:
			t.Errorf("%s: %s, want FAIL (%s)", r.ID, r.Status, r.Why)
		case !want[r.ID] && r.Status == conformance.Fail:
			t.Errorf("%s: FAIL, want pass or skip: %s", r.ID, r.Why)
		case !want[r.ID] && r.Level == conformance.Must && r.Status != conformance.Pass:
			t.Errorf("%s: MUST case %s: %s", r.ID, r.Status, r.Why)
		}
	}
	if t.Failed() {
		var b strings.Builder
		rep.Print(&b)
		t.Log("\n" + b.String())
	}
}

// The real wasm backend passes every MUST case through its HTTP endpoint
// (the plugin path), with sdk.Dial as the invoker would use.
func TestRuntimeWasmOverHTTP(t *testing.T) {
	t.Parallel()
	b := newWasm(t)
	if err := b.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	target := conformance.RuntimeTarget{
		Kind:     "wasm",
		Features: conformance.DefaultFeatures("wasm"),
		Fixtures: wasmFixtures(t),
		NewSandbox: func(ctx context.Context, opts conformance.SandboxOptions) (*conformance.Sandbox, error) {
			mem := opts.MemoryMB
			if mem == 0 {
				mem = 256
			}
			sb, err := b.Create(ctx, &sdk.Spec{Kind: "wasm", MemoryMB: mem, Env: opts.Env})
			if err != nil {
				return nil, err
			}
			logs, err := b.Logs(ctx, sb.ID)
			if err != nil {
				return nil, err
			}
			conn, err := sdk.Dial(sb.Endpoint)
			if err != nil {
				return nil, err
			}
			return &conformance.Sandbox{Conn: conn, Logs: logs,
				Close: func() error { return b.Destroy(context.Background(), sb.ID) }}, nil
		},
		LogGrace: 20 * time.Millisecond,
	}
	wantOnly(t, conformance.Check(t.Context(), target))
}

// RunRuntime is the go test form of the same suite; known gaps are
// skipped there (Check tests log them).
func TestRunRuntimeWasm(t *testing.T) {
	b := newWasm(t)
	conformance.RunRuntime(t, conformance.RuntimeTarget{
		Kind:     "wasm",
		Features: conformance.DefaultFeatures("wasm"),
		Fixtures: wasmFixtures(t),
		NewSandbox: func(ctx context.Context, opts conformance.SandboxOptions) (*conformance.Sandbox, error) {
			sb, err := b.Create(ctx, &sdk.Spec{Kind: "wasm", MemoryMB: 256, Env: opts.Env})
			if err != nil {
				return nil, err
			}
			logs, _ := b.Logs(ctx, sb.ID)
			conn, err := b.Dial(sb)
			if err != nil {
				return nil, err
			}
			return &conformance.Sandbox{Conn: conn, Logs: logs,
				Close: func() error { return b.Destroy(context.Background(), sb.ID) }}, nil
		},
		LogGrace: 20 * time.Millisecond,
		Skip:     knownGaps,
	})
}

// The backend suite on the real wasm backend, in-process (Dialer).
func TestBackendWasm(t *testing.T) {
	conformance.RunBackendTarget(t, conformance.BackendTarget{
		Backend: newWasm(t), Fixtures: wasmFixtures(t), LogGrace: 20 * time.Millisecond, Skip: knownGaps,
	})
}

func TestCheckBackendWasm(t *testing.T) {
	t.Parallel()
	rep := conformance.CheckBackend(t.Context(), conformance.BackendTarget{
		Backend: newWasm(t), Fixtures: wasmFixtures(t), LogGrace: 20 * time.Millisecond,
	})
	wantOnly(t, rep)
}
