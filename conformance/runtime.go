package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// RuntimeTarget is what the runtime suite checks: a source of fresh
// sandboxes of one runtime kind, the code each case deploys, and the
// optional features the runtime declares.
type RuntimeTarget struct {
	// Kind names the runtime in reports, for example "wasm" or "nodejs:20".
	Kind string
	// Features are the optional behaviours the runtime declares; cases for
	// undeclared ones are skipped with the reason.
	Features Features
	// Fixtures holds the code per case ID (BuiltinFixtures, LoadFixtures).
	Fixtures Fixtures
	// NewSandbox returns a fresh, uninitialised sandbox. Every case that
	// needs one calls it and closes what it got.
	NewSandbox func(ctx context.Context, opts SandboxOptions) (*Sandbox, error)
	// LogWait bounds the wait for expected log lines (default 2 s, as the
	// OpenWhisk invoker's idle timeout); LogGrace is the extra wait for
	// unexpected ones, such as a second sentinel (default 100 ms).
	LogWait, LogGrace time.Duration
	// Skip lists case IDs not to run, with the reason (a known gap, a
	// waiver); they are reported as SKIP with that reason.
	Skip map[string]string
}

// Features are a runtime's optional behaviours.
type Features struct {
	// CodeStub: the runtime has a stub action, so /init without code
	// succeeds (OpenWhisk's Docker skeleton). Stub-less runtimes must fail it.
	CodeStub bool
	// WasmABI: the runtime speaks "ActionLoop over WASI stdio" (kind wasm);
	// enables the W cases.
	WasmABI bool
	// FreshInstance: every activation runs in a fresh instance (the wasm
	// backend's default "instance" mode), so no state survives a /run.
	FreshInstance bool
	// Concurrent: a sandbox accepts overlapping /run calls.
	Concurrent bool
	// Ack: the runtime is an ActionLoop image started with OW_WAIT_FOR_ACK,
	// so its proxy must refuse /init when the child's first line on fd 3
	// is not {"ok":true} (C18).
	Ack bool
	// EchoesBadResult: the runtime writes a last stdout line that is not an
	// object or array to the logs before refusing it, as OpenWhisk's
	// docker skeleton does (native mode); C03 then allows that one stdout
	// line.
	EchoesBadResult bool
	// Exceptions: user code can throw, and a thrown exception is an
	// application error (C14).
	Exceptions bool
}

// DefaultFeatures returns the features the built-in runtimes of a kind
// declare.
func DefaultFeatures(kind string) Features {
	switch builtinDir(kind) {
	case "nodejs", "python":
		// Stoke's images set OW_WAIT_FOR_ACK and run one ActionLoop
		// launcher per sandbox.
		return Features{Ack: true, Exceptions: true}
	}
	switch kind {
	case "wasm":
		return Features{WasmABI: true, FreshInstance: true}
	case "native":
		return Features{EchoesBadResult: true}
	}
	return Features{}
}

// SandboxOptions are what a case asks of its sandbox.
type SandboxOptions struct {
	// Env is set in the sandbox's environment at start, as a container's
	// `docker run -e` (the env case sets __OW_API_HOST here).
	Env map[string]string
	// MemoryMB is the memory limit; 0 means the target's default.
	MemoryMB int
}

// Sandbox is one fresh sandbox handed to a case.
type Sandbox struct {
	Conn sdk.Conn
	// Logs streams the sandbox's stdout and stderr from its start; nil if
	// the target has none, and then every log check is skipped (and noted).
	Logs  sdk.LogStream
	Close func() error
}

func (t *RuntimeTarget) logWait() time.Duration {
	if t.LogWait > 0 {
		return t.LogWait
	}
	return 2 * time.Second
}

func (t *RuntimeTarget) logGrace() time.Duration {
	if t.LogGrace > 0 {
		return t.LogGrace
	}
	return 100 * time.Millisecond
}

// caseTimeout bounds one case, as OpenWhisk's harness bounds each call.
const caseTimeout = 60 * time.Second

// Check runs the runtime suite and returns its report.
func Check(ctx context.Context, target RuntimeTarget) *Report {
	rep := &Report{Suite: "runtime " + target.Kind}
	for _, c := range runtimeCases {
		rep.Results = append(rep.Results, runRuntimeCase(ctx, &target, c))
	}
	return rep
}

// RunRuntime runs the runtime suite as subtests of t, one per case ID.
func RunRuntime(t *testing.T, target RuntimeTarget) {
	t.Helper()
	for _, c := range runtimeCases {
		t.Run(c.ID, func(t *testing.T) {
			report(t, runRuntimeCase(t.Context(), &target, c))
		})
	}
}

// report maps a Result onto a subtest.
func report(t *testing.T, r Result) {
	t.Helper()
	switch r.Status {
	case Fail:
		t.Errorf("%s %s: %s\nexpected: %s\ngot: %s", r.Level, r.ID, r.Desc, r.Expect, r.Why)
	case Skip:
		t.Skipf("%s %s skipped: %s", r.Level, r.ID, r.Why)
	default:
		if r.Why != "" {
			t.Log(r.Why)
		}
	}
}

// RuntimeCases lists the runtime suite's cases in order.
func RuntimeCases() []Case {
	out := make([]Case, len(runtimeCases))
	for i, c := range runtimeCases {
		out[i] = c.Case
	}
	return out
}

type runtimeCase struct {
	Case
	run func(x *caseCtx) error
}

func runRuntimeCase(ctx context.Context, t *RuntimeTarget, c runtimeCase) Result {
	if why, ok := t.Skip[c.ID]; ok {
		return result(c.Case, skipf("skipped by the target: %s", why), nil, 0)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	x := &caseCtx{ctx: ctx, t: t}
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return c.run(x)
	}()
	x.cleanup()
	cancel()
	return result(c.Case, err, x.notes, time.Since(start))
}

// caseCtx is one case's run: its context, sandboxes and notes.
type caseCtx struct {
	ctx      context.Context
	t        *RuntimeTarget
	cleanups []func()
	notes    []string
	noLogs   bool
}

func (x *caseCtx) cleanup() {
	for i := len(x.cleanups) - 1; i >= 0; i-- {
		x.cleanups[i]()
	}
	x.cleanups = nil
}

// fixture returns the case's code, or a skip saying it is missing.
func (x *caseCtx) fixture(id string) (Fixture, error) {
	return x.t.Fixtures.get(x.t.Kind, id)
}

// box is a sandbox under test with its log collector.
type box struct {
	x   *caseCtx
	sb  *Sandbox
	col *collector // nil without logs
}

func (x *caseCtx) box(opts SandboxOptions) (*box, error) {
	if x.t.NewSandbox == nil {
		return nil, errors.New("the target has no NewSandbox")
	}
	sb, err := x.t.NewSandbox(x.ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	if sb == nil || sb.Conn == nil {
		return nil, errors.New("new sandbox: no connection")
	}
	b := &box{x: x, sb: sb}
	if sb.Logs != nil {
		b.col = collect(sb.Logs)
	} else if !x.noLogs {
		x.noLogs = true
		x.notes = append(x.notes, "log checks skipped: the target has no log stream")
	}
	x.cleanups = append(x.cleanups, func() {
		sb.Conn.Close()
		if sb.Close != nil {
			sb.Close()
		}
		if sb.Logs != nil {
			sb.Logs.Close()
		}
		if b.col != nil {
			b.col.close()
		}
	})
	return b, nil
}

func (b *box) mark() int {
	if b.col == nil {
		return 0
	}
	return b.col.mark()
}

func (b *box) initRaw(body []byte) (*sdk.Reply, error) {
	r, err := b.sb.Conn.Init(b.x.ctx, body)
	if err != nil {
		return nil, fmt.Errorf("/init: %w", err)
	}
	return r, nil
}

func (b *box) init(fx Fixture, main string, env map[string]string) (*sdk.Reply, error) {
	body, err := sdk.InitBody(&sdk.Init{Name: "conformance", Main: main, Binary: fx.Binary, Code: fx.Code, Env: env})
	if err != nil {
		return nil, err
	}
	return b.initRaw(body)
}

// initOK deploys the fixture for id and wants 200.
func (x *caseCtx) initOK(id, main string, opts SandboxOptions, env map[string]string) (*box, error) {
	fx, err := x.fixture(id)
	if err != nil {
		return nil, err
	}
	b, err := x.box(opts)
	if err != nil {
		return nil, err
	}
	r, err := b.init(fx, main, env)
	if err != nil {
		return nil, err
	}
	if r.Status != 200 {
		return nil, fmt.Errorf("/init of %s: %d %s, want 200", fx.Source, r.Status, short(r.Body))
	}
	return b, nil
}

func (b *box) run(body []byte) (*sdk.Reply, error) {
	r, err := b.sb.Conn.Run(b.x.ctx, body)
	if err != nil {
		return nil, fmt.Errorf("/run: %w", err)
	}
	return r, nil
}

// runValue posts {"value": v, <activation context>}.
func (b *box) runValue(v any) (*sdk.Reply, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	body, err := sdk.RunBody(&sdk.Run{
		Value:         raw,
		Namespace:     "conformance",
		ActionName:    "/conformance/action",
		ActionVersion: "0.0.1",
		ActivationID:  "c0nf0rmance0000000000000000000001",
		TransactionID: "conformance",
		Deadline:      fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()),
	})
	if err != nil {
		return nil, err
	}
	return b.run(body)
}

// Expectations.

func wantStatus(r *sdk.Reply, status int) error {
	if r.Status != status {
		return fmt.Errorf("status %d (body %s), want %d", r.Status, short(r.Body), status)
	}
	return nil
}

func wantNot200(r *sdk.Reply) error {
	if r.Status == 200 {
		return fmt.Errorf("status 200 (body %s), want a failure", short(r.Body))
	}
	return nil
}

// wantJSON wants body to be JSON equal to want (a Go value or JSON text).
func wantJSON(body []byte, want any) error {
	if s, ok := want.(string); ok {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return fmt.Errorf("bad expectation %q: %v", s, err)
		}
		want = v
	} else {
		raw, _ := json.Marshal(want)
		var v any
		_ = json.Unmarshal(raw, &v)
		want = v
	}
	var got any
	if err := json.Unmarshal(body, &got); err != nil {
		return fmt.Errorf("body %s is not JSON: %v", short(body), err)
	}
	if !reflect.DeepEqual(got, want) {
		w, _ := json.Marshal(want)
		return fmt.Errorf("body %s, want %s", short(body), short(w))
	}
	return nil
}

// wantErrorBody wants body to be {"error": m} for one of msgs.
func wantErrorBody(body []byte, msgs ...string) error {
	var errs []error
	for _, m := range msgs {
		err := wantJSON(body, map[string]string{"error": m})
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errs[0]
}

// object decodes a JSON object body.
func object(body []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, fmt.Errorf("body %s is not a JSON object", short(body))
	}
	return m, nil
}

// wantDeveloperError wants a reply the invoker counts as a developer
// error: not 200, not 503 (which would reschedule), a JSON object body
// with an "error" field.
func wantDeveloperError(r *sdk.Reply) error {
	if r.Status == 200 || r.Status == 503 {
		return fmt.Errorf("status %d (body %s), want a developer error (not 200, not 503)", r.Status, short(r.Body))
	}
	m, err := object(r.Body)
	if err != nil {
		return err
	}
	if _, ok := m["error"]; !ok {
		return fmt.Errorf("body %s has no \"error\" field", short(r.Body))
	}
	return nil
}

func short(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		return fmt.Sprintf("%s… (%d bytes)", b[:200], len(b))
	}
	if len(b) == 0 {
		return "(empty)"
	}
	return string(b)
}

// all returns the first non-nil error.
func all(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
