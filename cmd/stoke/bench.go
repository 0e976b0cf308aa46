package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/client"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/sdk"
)

type benchConfig struct {
	apihost     string
	auth        string
	examples    string
	pluginDir   string
	runtimesDir string
	quick       bool
	n           int
	firstN      int
	duration    time.Duration
	concurrency string
	rates       string
	actions     int
	jsonOut     string
	svgOut      string
}

func runBench(ctx context.Context, args []string) error {
	var cfg benchConfig
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&cfg.apihost, "apihost", "", "server to measure; empty starts `stoke serve` as a child process on a temporary data dir")
	fs.StringVar(&cfg.auth, "auth", entity.GuestUUID+":"+entity.GuestKey, "uuid:key")
	fs.StringVar(&cfg.examples, "examples", "bin/examples", "directory with echo.wasm (make examples)")
	fs.StringVar(&cfg.pluginDir, "plugin-dir", filepath.Join("bin", "plugins"), "backend plugins for the child server (make build)")
	fs.StringVar(&cfg.runtimesDir, "runtimes-dir", filepath.Join("bin", "runtimes"), "runc root filesystems (make images)")
	fs.BoolVar(&cfg.quick, "quick", false, "a run under a minute: fewer samples, shorter load steps")
	fs.IntVar(&cfg.n, "n", 0, "sequential samples per warm latency path (default 3000, quick 400)")
	fs.IntVar(&cfg.firstN, "first", 0, "first invocations to measure, one fresh action each (default 200, quick 40)")
	fs.DurationVar(&cfg.duration, "duration", 0, "length of each throughput step (default 4s, quick 1s)")
	fs.StringVar(&cfg.concurrency, "concurrency", "", "closed-loop concurrencies (default 1,8,32,128; quick 8,64)")
	fs.StringVar(&cfg.rates, "rates", "", "open-loop rates in invocations/s (default 1000,5000,20000; quick 2000,10000)")
	fs.IntVar(&cfg.actions, "actions", 1000, "distinct actions of the many-actions step")
	fs.StringVar(&cfg.jsonOut, "json", "", "write every figure and the targets to this JSON file")
	fs.StringVar(&cfg.svgOut, "svg", "", "write a bar chart of p50/p99 per path to this SVG file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.n == 0 {
		cfg.n = pick(cfg.quick, 400, 3000)
	}
	if cfg.firstN == 0 {
		cfg.firstN = pick(cfg.quick, 40, 200)
	}
	if cfg.duration == 0 {
		cfg.duration = time.Duration(pick(cfg.quick, 1000, 4000)) * time.Millisecond
	}
	if cfg.concurrency == "" {
		cfg.concurrency = map[bool]string{true: "8,64", false: "1,8,32,128"}[cfg.quick]
	}
	if cfg.rates == "" {
		cfg.rates = map[bool]string{true: "2000,10000", false: "1000,5000,20000"}[cfg.quick]
	}
	if cfg.actions <= 0 {
		return fmt.Errorf("--actions %d: want a positive number", cfg.actions)
	}
	return runBenchSuite(ctx, &cfg, os.Stdout, os.Stderr)
}

func pick(quick bool, q, full int) int {
	if quick {
		return q
	}
	return full
}

func positives(flagName, list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--%s %q: want a comma-separated list of positive numbers", flagName, list)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchRun is the state of one `stoke bench`.
type benchRun struct {
	ctx      context.Context
	cfg      *benchConfig
	cl       *client.Client
	progress io.Writer
	suffix   string
	results  []benchResult
	byName   map[string]benchResult
	skipped  []string
	cleanup  []string // actions to delete at the end
}

func (b *benchRun) step(s string) { fmt.Fprintf(b.progress, "▸ %s\n", s) }

func (b *benchRun) add(r benchResult) {
	b.results = append(b.results, r)
	b.byName[r.Name] = r
	fmt.Fprintf(b.progress, "  %-32s p50 %9.1f µs  p99 %9.1f µs  %9.0f ops/s", r.Name, r.P50us, r.P99us, r.OpsPerSec)
	if r.Errors > 0 {
		fmt.Fprintf(b.progress, "  (%d errors)", r.Errors)
	}
	fmt.Fprintln(b.progress)
}

func (b *benchRun) skip(what, why string) {
	b.skipped = append(b.skipped, what+": "+why)
	fmt.Fprintf(b.progress, "  skipped %s: %s\n", what, why)
}

func (b *benchRun) put(a *entity.Action) error {
	if _, err := b.cl.Actions.Put(b.ctx, a, true); err != nil {
		return fmt.Errorf("create %s: %w", a.Name, err)
	}
	b.cleanup = append(b.cleanup, a.Name)
	return nil
}

var benchParams = json.RawMessage(`{"name":"bench"}`)

func (b *benchRun) invoke(name string) error {
	r, err := b.cl.Actions.Invoke(b.ctx, name, benchParams, client.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		return err
	}
	if !r.Success() {
		return fmt.Errorf("invoke %s: status %d: %s", name, r.Status, r.Result)
	}
	return nil
}

func runBenchSuite(ctx context.Context, cfg *benchConfig, out, progress io.Writer) error {
	echo, err := os.ReadFile(filepath.Join(cfg.examples, "echo.wasm"))
	if err != nil {
		return fmt.Errorf("%w (run `make examples` first)", err)
	}
	concs, err := positives("concurrency", cfg.concurrency)
	if err != nil {
		return err
	}
	rates, err := positives("rates", cfg.rates)
	if err != nil {
		return err
	}
	began := time.Now()
	b := &benchRun{ctx: ctx, cfg: cfg, progress: progress, byName: map[string]benchResult{},
		suffix: strconv.FormatInt(time.Now().UnixNano(), 36)}

	// Which container backends the run can measure, decided before the
	// server starts so that it loads only those plugins.
	var containers []string
	for _, name := range []string{"docker", "runc"} {
		if why := containerAvailable(name, cfg.pluginDir, cfg.runtimesDir); why != "" {
			b.skip(name+" paths", why)
			continue
		}
		containers = append(containers, name)
	}
	if cfg.apihost == "" {
		b.step("starting `stoke serve` (in-memory bus)")
		host, stop, err := startChildServer(ctx, cfg, nil)
		if err != nil {
			return err
		}
		defer stop()
		cfg.apihost = host
	}
	if b.cl, err = client.New(cfg.apihost, cfg.auth); err != nil {
		return err
	}
	defer func() {
		for _, name := range b.cleanup {
			b.cl.Actions.Delete(context.Background(), name)
		}
	}()

	if err := b.wasmPaths(echo); err != nil {
		return err
	}
	for _, name := range containers {
		if err := b.containerPaths(name); err != nil {
			b.skip(name+" paths", err.Error())
		}
	}
	if err := b.throughput(concs, rates, containers); err != nil {
		return err
	}
	if err := b.manyActions(echo); err != nil {
		return err
	}
	if err := b.kafka(echo); err != nil {
		b.skip("kafka bus", err.Error())
	}

	printBench(out, b.results)
	targets := b.targets()
	fmt.Fprintln(out)
	printTargets(out, targets)
	if len(b.skipped) > 0 {
		fmt.Fprintf(out, "\nskipped: %s\n", joinSkips(b.skipped))
	}
	fmt.Fprintf(out, "\nwall time %s\n", time.Since(began).Round(time.Second))
	if cfg.jsonOut != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.jsonOut), 0o755); err != nil {
			return err
		}
		doc, _ := json.MarshalIndent(map[string]any{
			"when": time.Now().UTC(), "quick": cfg.quick, "results": b.results,
			"targets": targets, "skipped": b.skipped,
		}, "", "  ")
		if err := os.WriteFile(cfg.jsonOut, doc, 0o644); err != nil {
			return err
		}
	}
	if cfg.svgOut != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.svgOut), 0o755); err != nil {
			return err
		}
		f, err := os.Create(cfg.svgOut)
		if err != nil {
			return err
		}
		bw := bufio.NewWriter(f)
		werr := writeSVG(bw, b.results)
		if werr == nil {
			werr = bw.Flush()
		}
		if err := f.Close(); werr == nil {
			werr = err
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", cfg.svgOut, werr)
		}
	}
	return nil
}

func wasmBenchAction(name string, module []byte) *entity.Action {
	return &entity.Action{Name: name, Exec: entity.Exec{Kind: "wasm", Binary: true, Code: base64.StdEncoding.EncodeToString(module)}}
}

// wasmPaths: the warm path against a direct /run, and the first
// invocation of a module compiled at create against its warm one.
func (b *benchRun) wasmPaths(echo []byte) error {
	b.step("wasm warm path: blocking invoke through the API against /run on a warm sandbox")
	name := "bench-echo-" + b.suffix
	if err := b.put(wasmBenchAction(name, echo)); err != nil {
		return err
	}
	r, err := sequential("api-warm-wasm", "blocking invoke ?result=true, WAT echo, warm", b.cfg.n, func() error { return b.invoke(name) })
	if err != nil {
		return err
	}
	b.add(r)
	direct, err := directWasmRun(b.ctx, echo, b.cfg.n)
	if err != nil {
		return err
	}
	b.add(direct)
	// The floor any authenticated HTTP API pays on this machine: the same
	// client, connection reuse and Basic auth, a tiny JSON answer, no
	// activation. It splits the overhead into transport and platform.
	floor, err := sequential("api-floor", "GET /namespaces: an authenticated HTTP round trip, no activation", b.cfg.n, func() error {
		_, err := b.cl.Namespaces(b.ctx)
		return err
	})
	if err != nil {
		return err
	}
	b.add(floor)

	b.step("wasm first invocation: a new action per sample, module compiled at create")
	var lat []time.Duration
	for i := 0; i < b.cfg.firstN; i++ {
		first := fmt.Sprintf("bench-first-%s-%d", b.suffix, i)
		if err := b.put(wasmBenchAction(first, echo)); err != nil {
			return err
		}
		t0 := time.Now()
		err := b.invoke(first)
		lat = append(lat, time.Since(t0))
		if err != nil {
			return err
		}
	}
	b.add(summarize("api-first-wasm", "first invoke of a freshly created action", lat, 0))
	return nil
}

// directWasmRun measures /run on a warm wasm sandbox with no platform
// around it: the floor the API path is compared with.
func directWasmRun(ctx context.Context, module []byte, n int) (benchResult, error) {
	dir, err := os.MkdirTemp("", "stoke-bench-wasm")
	if err != nil {
		return benchResult{}, err
	}
	defer os.RemoveAll(dir)
	be, err := wasm.New(wasm.Config{CacheDir: dir})
	if err != nil {
		return benchResult{}, err
	}
	defer be.Close(ctx)
	sb, err := be.Create(ctx, &sdk.Spec{Kind: "wasm", MemoryMB: entity.DefaultMemory})
	if err != nil {
		return benchResult{}, err
	}
	conn, err := be.Dial(sb)
	if err != nil {
		return benchResult{}, err
	}
	return directRunConn(ctx, conn, "direct-run-wasm", "/run on a warm sandbox, in-process, no platform",
		&sdk.Init{Name: "echo", Main: "main", Binary: true, Code: base64.StdEncoding.EncodeToString(module)}, n)
}

func directRunConn(ctx context.Context, conn sdk.Conn, name, what string, init *sdk.Init, n int) (benchResult, error) {
	ib, err := sdk.InitBody(init)
	if err != nil {
		return benchResult{}, err
	}
	if rep, err := conn.Init(ctx, ib); err != nil || rep.Status != 200 {
		return benchResult{}, fmt.Errorf("%s: init: %v %v", name, rep, err)
	}
	run, err := sdk.RunBody(&sdk.Run{Value: benchParams, Namespace: "guest", ActionName: "/guest/echo",
		ActionVersion: "0.0.1", ActivationID: strings.Repeat("0", 32), Deadline: "0"})
	if err != nil {
		return benchResult{}, err
	}
	return sequential(name, what, n, func() error {
		rep, err := conn.Run(ctx, run)
		if err == nil && rep.Status != 200 {
			err = fmt.Errorf("direct run: status %d", rep.Status)
		}
		return err
	})
}

// containerPaths: cold, prewarm hit and warm for a Node.js echo on one
// container backend, its direct /run and its raw create.
func (b *benchRun) containerPaths(backend string) error {
	b.step(backend + ": Node.js echo cold, prewarm hit, warm; direct /run and raw create")
	node := func(name string, mem int) *entity.Action {
		return &entity.Action{Name: name, Exec: entity.Exec{Kind: "nodejs:20", Code: nodeEcho},
			Limits:      entity.ActionLimits{Memory: mem},
			Annotations: entity.KeyValues{{Key: "backend", Value: json.RawMessage(strconv.Quote(backend))}}}
	}
	samples := pick(b.cfg.quick, 3, 10)
	// Cold: 128 MiB matches no stem cell (they are 256 MiB), so each new
	// action creates its sandbox.
	var cold []time.Duration
	for i := 0; i < samples; i++ {
		name := fmt.Sprintf("bench-cold-%s-%s-%d", backend, b.suffix, i)
		if err := b.put(node(name, 128)); err != nil {
			return err
		}
		t0 := time.Now()
		err := b.invoke(name)
		cold = append(cold, time.Since(t0))
		if err != nil {
			return err
		}
	}
	b.add(summarize("api-cold-"+backend+"-node", "first invoke, new sandbox (no matching stem cell)", cold, 0))

	// Prewarm: 256 MiB matches a stem cell; wait for the pool to refill
	// between samples.
	var pre []time.Duration
	for i := 0; i < samples; i++ {
		if !b.waitPrewarm(backend, 20*time.Second) {
			if i == 0 {
				b.skip("api-prewarm-"+backend+"-node", "no "+backend+" stem cell appeared (stem cells run on the default container backend)")
			}
			break
		}
		name := fmt.Sprintf("bench-pre-%s-%s-%d", backend, b.suffix, i)
		if err := b.put(node(name, 256)); err != nil {
			return err
		}
		t0 := time.Now()
		err := b.invoke(name)
		pre = append(pre, time.Since(t0))
		if err != nil {
			return err
		}
	}
	if len(pre) > 0 {
		b.add(summarize("api-prewarm-"+backend+"-node", "first invoke taking a stem cell (/init + /run)", pre, 0))
	}

	warm := "bench-warm-" + backend + "-" + b.suffix
	if err := b.put(node(warm, 256)); err != nil {
		return err
	}
	r, err := sequential("api-warm-"+backend+"-node", "blocking invoke, warm "+backend+" sandbox", b.cfg.n/2, func() error { return b.invoke(warm) })
	if err != nil {
		return err
	}
	b.add(r)

	be, err := containerBackend(b.ctx, backend, b.cfg.runtimesDir)
	if err != nil {
		return err
	}
	if c, ok := be.(interface{ Close(context.Context) error }); ok {
		defer c.Close(context.WithoutCancel(b.ctx))
	}
	if r, err = directContainerRun(b.ctx, be, backend, b.cfg.n/2); err != nil {
		return err
	}
	b.add(r)
	if r, err = backendCreate(b.ctx, be, backend, samples); err != nil {
		return err
	}
	b.add(r)
	if backend == "docker" {
		if r, err = rawDockerCreateStart(b.ctx, samples); err != nil {
			return err
		}
		b.add(r)
	}
	return nil
}

// waitPrewarm polls the server's /metrics until a stem cell of the
// backend is ready.
func (b *benchRun) waitPrewarm(backend string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(b.cfg.apihost + "/metrics")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "stoke_pool_sandboxes{") && strings.Contains(line, `backend="`+backend+`"`) &&
				strings.Contains(line, `kind="nodejs:20"`) && strings.Contains(line, `state="prewarm"`) && !strings.HasSuffix(line, " 0") {
				// The pool counts a stem cell once its proxy answers; the
				// prestarted interpreter inside still boots for ~0.1 s
				// more. Stem cells wait far longer than that between
				// hits in real use, so measure one that has settled.
				time.Sleep(time.Second)
				return true
			}
		}
	}
	return false
}

// throughput: closed loop at each concurrency and open loop at each rate,
// for the wasm echo and the warm Node.js echo of each container backend.
func (b *benchRun) throughput(concs, rates []int, containers []string) error {
	paths := []struct{ label, action string }{{"wasm", "bench-echo-" + b.suffix}}
	for _, c := range containers {
		if _, ok := b.byName["api-warm-"+c+"-node"]; ok {
			paths = append(paths, struct{ label, action string }{c, "bench-warm-" + c + "-" + b.suffix})
		}
	}
	for _, p := range paths {
		b.step("throughput, " + p.label + ": closed loop, then open loop")
		concs, rates := concs, rates
		if p.label != "wasm" {
			// One Node.js sandbox runs one activation at a time: more
			// callers than warm sandboxes measure cold starts, not the
			// warm path. Warm containerConcurrency sandboxes first.
			concs, rates = []int{1, containerConcurrency}, []int{containerRate}
			if _, err := closedLoop("warm-up", "", containerConcurrency, time.Second, func(int, int) error { return b.invoke(p.action) }); err != nil {
				return err
			}
		}
		for _, c := range concs {
			r, err := closedLoop(fmt.Sprintf("tput-%s-c%d", p.label, c), fmt.Sprintf("closed loop, %d callers", c), c, b.cfg.duration,
				func(int, int) error { return b.invoke(p.action) })
			if err != nil {
				return err
			}
			b.add(r)
		}
		for _, rate := range rates {
			b.add(openLoop(fmt.Sprintf("open-%s-%d/s", p.label, rate), fmt.Sprintf("open loop at %d/s", rate), rate, b.cfg.duration, 1024,
				func(int) error { return b.invoke(p.action) }))
		}
	}
	return nil
}

// The load on a container path: callers of the closed loop and rate of
// the open loop.
const (
	containerConcurrency = 4
	containerRate        = 500
)

// manyActions compares round robin over many distinct actions with one
// action under the same closed-loop load.
func (b *benchRun) manyActions(echo []byte) error {
	n := b.cfg.actions
	b.step(fmt.Sprintf("many actions: %d distinct actions round robin against one", n))
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("bench-many-%s-%d", b.suffix, i)
		if err := b.put(wasmBenchAction(names[i], echo)); err != nil {
			return err
		}
	}
	const workers = 32
	// One pass first, so every action has been invoked once.
	for _, name := range names {
		if err := b.invoke(name); err != nil {
			return err
		}
	}
	one, err := closedLoop("many-1-action-c32", "closed loop, 32 callers, one action", workers, b.cfg.duration,
		func(int, int) error { return b.invoke(names[0]) })
	if err != nil {
		return err
	}
	b.add(one)
	many, err := closedLoop(fmt.Sprintf("many-%d-actions-c32", n), fmt.Sprintf("closed loop, 32 callers, %d actions round robin", n), workers, b.cfg.duration,
		func(w, i int) error { return b.invoke(names[(w+i*workers)%n]) })
	if err != nil {
		return err
	}
	b.add(many)
	return nil
}

// kafka measures the warm wasm path and its throughput through a second
// server on the embedded Kafka broker, if `stoke serve` has one.
func (b *benchRun) kafka(echo []byte) error {
	b.step("kafka bus: the same warm path through `stoke serve --embedded-kafka`")
	if !serveHasFlag("embedded-kafka") {
		return fmt.Errorf("`stoke serve --embedded-kafka` is not in this build")
	}
	host, stop, err := startChildServer(b.ctx, b.cfg, []string{"--embedded-kafka"})
	if err != nil {
		return err
	}
	defer stop()
	cl, err := client.New(host, b.cfg.auth)
	if err != nil {
		return err
	}
	kb := &benchRun{ctx: b.ctx, cfg: b.cfg, cl: cl, progress: b.progress, suffix: b.suffix, byName: map[string]benchResult{}}
	name := "bench-kafka-" + b.suffix
	if err := kb.put(wasmBenchAction(name, echo)); err != nil {
		return err
	}
	r, err := sequential("api-warm-wasm-kafka", "blocking invoke, warm, Kafka bus (embedded broker)", b.cfg.n/2, func() error { return kb.invoke(name) })
	if err != nil {
		return err
	}
	b.add(r)
	r, err = closedLoop("tput-wasm-kafka-c32", "closed loop, 32 callers, Kafka bus", 32, b.cfg.duration, func(int, int) error { return kb.invoke(name) })
	if err != nil {
		return err
	}
	b.add(r)
	return nil
}

func serveHasFlag(name string) bool {
	var cfg serveConfig
	return serveFlags(&cfg).Lookup(name) != nil
}

func printBench(w io.Writer, rs []benchResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tn\tp50 µs\tp99 µs\tmean µs\tops/s\terrors\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t%d\t\n", r.Name, r.N, r.P50us, r.P99us, r.MeanUs, r.OpsPerSec, r.Errors)
	}
	tw.Flush()
}

// startChildServer runs `stoke serve` from this binary on a free port with
// a throwaway data dir, so that the measured server is its own process.
func startChildServer(ctx context.Context, cfg *benchConfig, extra []string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "stoke-bench")
	if err != nil {
		return "", nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	ready := filepath.Join(dir, "ready")
	// The memory budget is nominal: a wasm sandbox takes far less than
	// its 256 MiB limit, and the many-actions step keeps 1,000 warm.
	args := append([]string{"serve", "--port", "0", "--data-dir", filepath.Join(dir, "data"),
		"--ready-file", ready, "--log-level", "warn", "--concurrent-invocations", "-1",
		"--pause-grace", "0", "--memory", "1048576", "--shutdown-grace", "60s",
		"--plugin-dir", cfg.pluginDir, "--runtimes-dir", cfg.runtimesDir}, extra...)
	cmd := exec.CommandContext(ctx, self, args...)
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 8 << 10}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(90 * time.Second): // destroying many containers takes a while
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("stoke serve exited: %s", strings.TrimSpace(stderr.String()))
		default:
		}
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			return "http://" + string(b), stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("stoke serve did not start: %s", strings.TrimSpace(stderr.String()))
}

// limitedWriter keeps the first n bytes of the child's stderr for error
// messages and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
