package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// BackendTarget is what the backend suite checks.
type BackendTarget struct {
	Backend sdk.Backend
	// Kind is the runtime kind the suite creates sandboxes for; empty
	// means the first of Info.Kinds.
	Kind string
	// Image, when set, is the runtime image every sandbox runs
	// (sdk.Spec.Image), for container backends: the suite then checks that
	// image under Kind's fixtures instead of the backend's image for Kind.
	Image string
	// Fixtures for the kind; nil means BuiltinFixtures(Kind). Cases whose
	// fixture is missing are skipped and say so.
	Fixtures Fixtures
	// Features of the kind's runtime; nil means DefaultFeatures(Kind), with
	// Concurrent from the backend's capabilities.
	Features *Features
	// MemoryMB for the suite's sandboxes (default 256).
	MemoryMB int
	// LogWait, LogGrace and Skip as in RuntimeTarget; Skip may name
	// backend and runtime cases.
	LogWait, LogGrace time.Duration
	Skip              map[string]string
}

// LabelKey is the label every sandbox the backend suite creates carries,
// with a value unique to the run; the last case wants none left.
const LabelKey = "stoke.conformance"

type backendCase struct {
	Case
	run func(s *bsuite) error
}

var backendCases = []backendCase{
	{Case{"B01", Must, "Info is sane",
		`Info: non-empty name, apiVersion semver MAJOR.MINOR.PATCH with the major of sdk.APIVersion, non-empty kinds (including Kind)`}, b01},
	{Case{"B02", Must, "Create and Destroy",
		`Create(kind, labels) -> a sandbox with a non-empty id and endpoint, its kind and labels; Destroy -> nil`}, b02},
	{Case{"B03", Must, "Destroy twice is not an error",
		`Destroy of a destroyed sandbox -> nil`}, b03},
	{Case{"B04", Must, "unknown ids are ErrNotFound",
		`Destroy, Pause and Resume of an id never created -> errors.Is(err, sdk.ErrNotFound)`}, b04},
	{Case{"B05", Must, "Pause and Resume when declared",
		`Capabilities.Pause: Pause -> nil, Resume -> nil, then /init and /run -> 200 (skipped if not declared)`}, b05},
	{Case{"B06", Must, "concurrent creates",
		`8 concurrent Create -> 8 sandboxes with distinct ids; all destroyed`}, b06},
	{Case{"B07", Must, "List by labels",
		`List(suite label + case label) -> exactly the 2 created; after Destroy of one -> exactly the other; List of an unused label -> none`}, b07},
	{Case{"B08", Must, "the memory limit is enforced when declared",
		`Capabilities.MemoryLimit: fixture B08 grows memory to 32 MiB; with MemoryMB 16 /run -> developer error (not 200, not 503); with MemoryMB 128 -> 200`}, b08},
	{Case{"B09", Must, "a run's deadline ends it promptly",
		`fixture C23 loops forever; /run with a 300 ms deadline returns within 2.3 s, not 200; Destroy -> nil within 5 s`}, b09},
	{Case{"B10", Must, "log framing: one sentinel per run on each stream",
		`Logs, then /init of fixture C06 and 3 /run -> exactly 3 sentinels on stdout and on stderr, each run's "hello stdout"/"hello stderr" before its sentinel`}, b10},
	{Case{"B11", Must, "a log stream ends when its sandbox is destroyed",
		`Logs; Destroy -> Next returns io.EOF within 2 s`}, b11},
	{Case{"B12", Must, "no sandbox leaks",
		`after every case, including the runtime suite run through the backend, List(suite label) -> none`}, b12},
}

// BackendCases lists the backend suite's own cases in order. The runtime
// suite's cases run between B11 and B12 through the backend's sandboxes.
func BackendCases() []Case {
	out := make([]Case, len(backendCases))
	for i, c := range backendCases {
		out[i] = c.Case
	}
	return out
}

// bsuite is one run of the backend suite.
type bsuite struct {
	ctx     context.Context
	target  BackendTarget
	b       sdk.Backend
	info    *sdk.Info
	infoErr error
	kind    string
	label   string
	fx      Fixtures
	fxErr   error
	rt      RuntimeTarget
	cur     *bctx // the running case; cases run one at a time
}

func newBsuite(ctx context.Context, target BackendTarget) *bsuite {
	var tag [6]byte
	_, _ = rand.Read(tag[:])
	s := &bsuite{ctx: ctx, target: target, b: target.Backend, label: hex.EncodeToString(tag[:])}
	if s.b == nil {
		s.infoErr = errors.New("the target has no Backend")
		return s
	}
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s.info, s.infoErr = s.b.Info(ictx)
	cancel()
	if s.infoErr == nil && s.info == nil {
		s.infoErr = errors.New("Info returned nil")
	}
	s.kind = target.Kind
	if s.kind == "" && s.info != nil && len(s.info.Kinds) > 0 {
		s.kind = s.info.Kinds[0]
	}
	s.fx = target.Fixtures
	if s.fx == nil {
		s.fx, s.fxErr = BuiltinFixtures(s.kind)
	}
	feat := DefaultFeatures(s.kind)
	if s.info != nil {
		feat.Concurrent = s.info.Capabilities.Concurrent
	}
	if target.Features != nil {
		feat = *target.Features
	}
	s.rt = RuntimeTarget{
		Kind: s.kind, Features: feat, Fixtures: s.fx,
		NewSandbox: s.newSandbox, LogWait: target.LogWait, LogGrace: target.LogGrace,
		Skip: target.Skip,
	}
	return s
}

func (s *bsuite) memoryMB() int {
	if s.target.MemoryMB > 0 {
		return s.target.MemoryMB
	}
	return 256
}

func (s *bsuite) spec(name string, memMB int, env, labels map[string]string) *sdk.Spec {
	l := map[string]string{LabelKey: s.label}
	for k, v := range labels {
		l[k] = v
	}
	if memMB == 0 {
		memMB = s.memoryMB()
	}
	return &sdk.Spec{Name: "conformance-" + name, Kind: s.kind, Image: s.target.Image, MemoryMB: memMB, Env: env, Labels: l}
}

// dial connects to a sandbox the way the invoker does.
func (s *bsuite) dial(sb *sdk.Sandbox) (sdk.Conn, error) {
	if d, ok := s.b.(sdk.Dialer); ok {
		return d.Dial(sb)
	}
	return sdk.Dial(sb.Endpoint)
}

// newSandbox is the runtime suite's NewSandbox through the backend.
func (s *bsuite) newSandbox(ctx context.Context, opts SandboxOptions) (*Sandbox, error) {
	sb, err := s.b.Create(ctx, s.spec("runtime", opts.MemoryMB, opts.Env, nil))
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	destroy := func() error { return s.b.Destroy(context.WithoutCancel(ctx), sb.ID) }
	logs, err := s.b.Logs(ctx, sb.ID)
	if err != nil {
		destroy()
		return nil, fmt.Errorf("logs: %w", err)
	}
	conn, err := s.dial(sb)
	if err != nil {
		logs.Close()
		destroy()
		return nil, fmt.Errorf("dial: %w", err)
	}
	return &Sandbox{Conn: conn, Logs: logs, Close: destroy}, nil
}

// bctx is one backend case's run, with the sandboxes to destroy after it.
type bctx struct {
	*bsuite
	ctx context.Context
	ids []string
}

func (c *bctx) create(name string, memMB int, labels map[string]string) (*sdk.Sandbox, error) {
	sb, err := c.b.Create(c.ctx, c.spec(name, memMB, nil, labels))
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if sb == nil || sb.ID == "" {
		return nil, errors.New("create returned no sandbox id")
	}
	c.ids = append(c.ids, sb.ID)
	return sb, nil
}

func (s *bsuite) runCase(ctx context.Context, bc backendCase) Result {
	if why, ok := s.target.Skip[bc.ID]; ok {
		return result(bc.Case, skipf("skipped by the target: %s", why), nil, 0)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	defer cancel()
	c := &bctx{bsuite: s, ctx: ctx}
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		if s.infoErr != nil && bc.ID != "B01" {
			return fmt.Errorf("Info failed: %v", s.infoErr)
		}
		return bc.run(c.bsuiteFor())
	}()
	for _, id := range c.ids {
		_ = s.b.Destroy(context.WithoutCancel(ctx), id)
	}
	return result(bc.Case, err, nil, time.Since(start))
}

// current is the case context the case functions reach through bsuite;
// cases run one at a time.
func (c *bctx) bsuiteFor() *bsuite {
	c.bsuite.cur = c
	return c.bsuite
}

// CheckBackend runs the backend suite, the runtime suite through the
// backend's sandboxes, and the leak check, and returns one report.
func CheckBackend(ctx context.Context, target BackendTarget) *Report {
	s := newBsuite(ctx, target)
	rep := &Report{Suite: "backend " + s.name()}
	last := backendCases[len(backendCases)-1]
	for _, bc := range backendCases[:len(backendCases)-1] {
		rep.Results = append(rep.Results, s.runCase(ctx, bc))
	}
	for _, rc := range runtimeCases {
		rep.Results = append(rep.Results, s.runRuntime(ctx, rc))
	}
	rep.Results = append(rep.Results, s.runCase(ctx, last))
	return rep
}

// RunBackend runs CheckBackend's cases as subtests of t, on one backend
// from factory: B01–B11, then the runtime suite under "runtime/", then B12.
// The kind is the backend's first; fixtures are the built-in ones.
func RunBackend(t *testing.T, factory func(t *testing.T) sdk.Backend) {
	t.Helper()
	RunBackendTarget(t, BackendTarget{Backend: factory(t)})
}

// RunBackendTarget is RunBackend with the kind, fixtures, features or
// skips chosen by the caller.
func RunBackendTarget(t *testing.T, target BackendTarget) {
	t.Helper()
	s := newBsuite(t.Context(), target)
	last := backendCases[len(backendCases)-1]
	for _, bc := range backendCases[:len(backendCases)-1] {
		t.Run(bc.ID, func(t *testing.T) { report(t, s.runCase(t.Context(), bc)) })
	}
	t.Run("runtime", func(t *testing.T) {
		for _, rc := range runtimeCases {
			t.Run(rc.ID, func(t *testing.T) { report(t, s.runRuntime(t.Context(), rc)) })
		}
	})
	t.Run(last.ID, func(t *testing.T) { report(t, s.runCase(t.Context(), last)) })
}

func (s *bsuite) name() string {
	if s.info != nil && s.info.Name != "" {
		return s.info.Name
	}
	return "unknown"
}

func (s *bsuite) runRuntime(ctx context.Context, rc runtimeCase) Result {
	if s.infoErr != nil {
		return result(rc.Case, fmt.Errorf("Info failed: %v", s.infoErr), nil, 0)
	}
	if s.fxErr != nil {
		// Cases that need no fixture still run.
		s.rt.Fixtures = Fixtures{}
		r := runRuntimeCase(ctx, &s.rt, rc)
		if r.Status == Skip && strings.HasPrefix(r.Why, "no fixture") {
			r.Why = s.fxErr.Error()
		}
		return r
	}
	return runRuntimeCase(ctx, &s.rt, rc)
}

var semver = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$`)

func b01(s *bsuite) error {
	if s.infoErr != nil {
		return fmt.Errorf("Info: %w", s.infoErr)
	}
	in := s.info
	var bad []string
	if strings.TrimSpace(in.Name) == "" {
		bad = append(bad, "empty name")
	}
	m := semver.FindStringSubmatch(in.APIVersion)
	want := semver.FindStringSubmatch(sdk.APIVersion)
	switch {
	case m == nil:
		bad = append(bad, fmt.Sprintf("apiVersion %q is not semver", in.APIVersion))
	case m[1] != want[1]:
		bad = append(bad, fmt.Sprintf("apiVersion %q has major %s, the host's %s has %s", in.APIVersion, m[1], sdk.APIVersion, want[1]))
	}
	if len(in.Kinds) == 0 {
		bad = append(bad, "no kinds")
	} else if !slices.Contains(in.Kinds, s.kind) {
		bad = append(bad, fmt.Sprintf("kinds %q lack the suite's kind %q", in.Kinds, s.kind))
	}
	if bad != nil {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func b02(s *bsuite) error {
	c := s.cur
	sb, err := c.create("b02", 0, map[string]string{"case": "b02"})
	if err != nil {
		return err
	}
	var bad []string
	if sb.Endpoint == "" {
		bad = append(bad, "empty endpoint")
	}
	if sb.Kind != "" && sb.Kind != s.kind {
		bad = append(bad, fmt.Sprintf("kind %q, want %q", sb.Kind, s.kind))
	}
	if sb.Labels["case"] != "b02" || sb.Labels[LabelKey] != s.label {
		bad = append(bad, fmt.Sprintf("labels %v lack the ones asked for", sb.Labels))
	}
	if bad != nil {
		return errors.New(strings.Join(bad, "; "))
	}
	if err := s.b.Destroy(c.ctx, sb.ID); err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	return nil
}

func b03(s *bsuite) error {
	c := s.cur
	sb, err := c.create("b03", 0, nil)
	if err != nil {
		return err
	}
	if err := s.b.Destroy(c.ctx, sb.ID); err != nil {
		return fmt.Errorf("first destroy: %w", err)
	}
	if err := s.b.Destroy(c.ctx, sb.ID); err != nil {
		return fmt.Errorf("second destroy: %v, want nil", err)
	}
	return nil
}

func b04(s *bsuite) error {
	c := s.cur
	id := "conformance-never-created-" + s.label
	var bad []string
	for _, op := range []struct {
		name string
		f    func(context.Context, string) error
	}{{"Destroy", s.b.Destroy}, {"Pause", s.b.Pause}, {"Resume", s.b.Resume}} {
		if err := op.f(c.ctx, id); !errors.Is(err, sdk.ErrNotFound) {
			bad = append(bad, fmt.Sprintf("%s(unknown id) = %v, want an error wrapping sdk.ErrNotFound", op.name, err))
		}
	}
	if bad != nil {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func b05(s *bsuite) error {
	if !s.info.Capabilities.Pause {
		return skipf("Capabilities.Pause not declared")
	}
	c := s.cur
	sb, err := c.create("b05", 0, nil)
	if err != nil {
		return err
	}
	if err := s.b.Pause(c.ctx, sb.ID); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	if err := s.b.Resume(c.ctx, sb.ID); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	fx, err := s.fx.get(s.kind, "C05")
	if err != nil {
		return nil
	}
	return c.initRun(sb, fx, "niam", `{"value":{"string":"hello"}}`, 200)
}

// initRun inits fx on sb and wants /run body to answer status.
func (c *bctx) initRun(sb *sdk.Sandbox, fx Fixture, main, body string, status int) error {
	conn, err := c.dial(sb)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	ib, _ := sdk.InitBody(&sdk.Init{Name: "conformance", Main: main, Binary: fx.Binary, Code: fx.Code})
	r, err := conn.Init(c.ctx, ib)
	if err != nil {
		return fmt.Errorf("/init: %w", err)
	}
	if err := wantStatus(r, 200); err != nil {
		return fmt.Errorf("/init: %w", err)
	}
	r, err = conn.Run(c.ctx, []byte(body))
	if err != nil {
		return fmt.Errorf("/run: %w", err)
	}
	if status == 0 {
		return wantDeveloperError(r)
	}
	return wantStatus(r, status)
}

func b06(s *bsuite) error {
	c := s.cur
	const n = 8
	sbs := make([]*sdk.Sandbox, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { sbs[i], errs[i] = s.b.Create(c.ctx, s.spec("b06", 0, nil, nil)) })
	}
	wg.Wait()
	seen := map[string]bool{}
	var bad []string
	for i := range n {
		if errs[i] != nil {
			bad = append(bad, fmt.Sprintf("create %d: %v", i, errs[i]))
			continue
		}
		if sbs[i] == nil || sbs[i].ID == "" {
			bad = append(bad, fmt.Sprintf("create %d: no id", i))
			continue
		}
		c.ids = append(c.ids, sbs[i].ID)
		if seen[sbs[i].ID] {
			bad = append(bad, "duplicate id "+sbs[i].ID)
		}
		seen[sbs[i].ID] = true
	}
	if bad != nil {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func (c *bctx) listIDs(labels map[string]string) ([]string, error) {
	sbs, err := c.b.List(c.ctx, labels)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var ids []string
	for _, sb := range sbs {
		if sb != nil {
			ids = append(ids, sb.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func b07(s *bsuite) error {
	c := s.cur
	mine := map[string]string{LabelKey: s.label, "case": "b07"}
	a, err := c.create("b07a", 0, mine)
	if err != nil {
		return err
	}
	b, err := c.create("b07b", 0, mine)
	if err != nil {
		return err
	}
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	got, err := c.listIDs(mine)
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("List(%v) = %q, want %q", mine, got, want)
	}
	if err := s.b.Destroy(c.ctx, a.ID); err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	got, err = c.listIDs(mine)
	if err != nil {
		return err
	}
	if !slices.Equal(got, []string{b.ID}) {
		return fmt.Errorf("after destroying %s, List(%v) = %q, want [%q]", a.ID, mine, got, b.ID)
	}
	none := map[string]string{LabelKey: s.label, "case": "nobody"}
	if got, err = c.listIDs(none); err != nil {
		return err
	} else if len(got) != 0 {
		return fmt.Errorf("List(%v) = %q, want none", none, got)
	}
	return nil
}

func b08(s *bsuite) error {
	if !s.info.Capabilities.MemoryLimit {
		return skipf("Capabilities.MemoryLimit not declared")
	}
	fx, err := s.fx.get(s.kind, "B08")
	if err != nil {
		return err
	}
	c := s.cur
	small, err := c.create("b08-16", 16, nil)
	if err != nil {
		return err
	}
	if err := c.initRun(small, fx, "main", `{"value":{}}`, 0); err != nil {
		return fmt.Errorf("16 MiB: %w", err)
	}
	big, err := c.create("b08-128", 128, nil)
	if err != nil {
		return err
	}
	if err := c.initRun(big, fx, "main", `{"value":{}}`, 200); err != nil {
		return fmt.Errorf("128 MiB (control): %w", err)
	}
	return nil
}

func b09(s *bsuite) error {
	fx, err := s.fx.get(s.kind, "C23")
	if err != nil {
		return err
	}
	c := s.cur
	sb, err := c.create("b09", 0, nil)
	if err != nil {
		return err
	}
	conn, err := c.dial(sb)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	ib, _ := sdk.InitBody(&sdk.Init{Name: "conformance", Main: "main", Binary: fx.Binary, Code: fx.Code})
	if r, err := conn.Init(c.ctx, ib); err != nil || r.Status != 200 {
		return fmt.Errorf("/init: %v %v", r, err)
	}
	const deadline, grace = 300 * time.Millisecond, 2 * time.Second
	if err := within(deadline+grace, func() error {
		ctx, cancel := context.WithTimeout(c.ctx, deadline)
		defer cancel()
		r, err := conn.Run(ctx, []byte(`{"value":{}}`))
		if err == nil && r.Status == 200 {
			return fmt.Errorf("/run past its deadline answered 200 %s", short(r.Body))
		}
		return nil
	}); err != nil {
		return fmt.Errorf("/run: %w", err)
	}
	if err := within(5*time.Second, func() error { return s.b.Destroy(c.ctx, sb.ID) }); err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	return nil
}

// within runs f and fails if it takes longer than d (f keeps running).
func within(d time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

func b10(s *bsuite) error {
	fx, err := s.fx.get(s.kind, "C06")
	if err != nil {
		return err
	}
	c := s.cur
	sb, err := c.create("b10", 0, nil)
	if err != nil {
		return err
	}
	logs, err := s.b.Logs(c.ctx, sb.ID)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	col := collect(logs)
	defer func() { logs.Close(); col.close() }()
	conn, err := c.dial(sb)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	ib, _ := sdk.InitBody(&sdk.Init{Name: "conformance", Main: "main", Binary: fx.Binary, Code: fx.Code})
	if r, err := conn.Init(c.ctx, ib); err != nil || r.Status != 200 {
		return fmt.Errorf("/init: %v %v", r, err)
	}
	const n = 3
	for i := range n {
		r, err := conn.Run(c.ctx, []byte(fmt.Sprintf(`{"value":{"i":%d}}`, i)))
		if err != nil {
			return fmt.Errorf("/run %d: %w", i, err)
		}
		if err := wantStatus(r, 200); err != nil {
			return fmt.Errorf("/run %d: %w", i, err)
		}
	}
	x := &caseCtx{ctx: c.ctx, t: &s.rt}
	bx := &box{x: x, col: col}
	if err := bx.checkSentinels(0, n); err != nil {
		return err
	}
	lines := col.wait(0, 0, func([]sdk.LogLine) bool { return true })
	for stream, want := range map[string]string{"stdout": "hello stdout", "stderr": "hello stderr"} {
		frame := 0
		seen := false
		for _, l := range lines {
			if l.Stream != stream {
				continue
			}
			if strings.TrimSpace(l.Text) == sdk.Sentinel {
				if !seen {
					return fmt.Errorf("%s: activation %d has no %q before its sentinel", stream, frame+1, want)
				}
				frame++
				seen = false
			} else if strings.Contains(l.Text, want) {
				seen = true
			}
		}
	}
	return nil
}

func b11(s *bsuite) error {
	c := s.cur
	sb, err := c.create("b11", 0, nil)
	if err != nil {
		return err
	}
	logs, err := s.b.Logs(c.ctx, sb.ID)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer logs.Close()
	if err := s.b.Destroy(c.ctx, sb.ID); err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	for {
		_, err := logs.Next(ctx)
		if err == nil {
			continue // lines written before the destroy
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if ctx.Err() != nil {
			return errors.New("Next still blocks 2 s after Destroy, want io.EOF")
		}
		return fmt.Errorf("Next after Destroy = %v, want io.EOF", err)
	}
}

func b12(s *bsuite) error {
	c := s.cur
	ids, err := c.listIDs(map[string]string{LabelKey: s.label})
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		for _, id := range ids {
			_ = s.b.Destroy(c.ctx, id)
		}
		return fmt.Errorf("List(%s=%s) after the suite = %q, want none", LabelKey, s.label, ids)
	}
	return nil
}

// RuntimeThrough returns the runtime suite's target for target.Kind run
// through the backend's own sandboxes, without the backend's cases: what
// `stoke conformance runtime --backend NAME` checks.
func RuntimeThrough(ctx context.Context, target BackendTarget) (RuntimeTarget, error) {
	s := newBsuite(ctx, target)
	if s.infoErr != nil {
		return RuntimeTarget{}, fmt.Errorf("backend info: %w", s.infoErr)
	}
	if s.fxErr != nil {
		return RuntimeTarget{}, s.fxErr
	}
	return s.rt, nil
}
