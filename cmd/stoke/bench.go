package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/client"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/sdk"
)

// benchResult is one measured path.
type benchResult struct {
	Name      string  `json:"name"`
	What      string  `json:"what"`
	N         int     `json:"n"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	MeanUs    float64 `json:"mean_us"`
	OpsPerSec float64 `json:"ops_per_sec"`
}

type benchConfig struct {
	apihost     string
	auth        string
	examples    string
	quick       bool
	n           int
	firstN      int
	duration    time.Duration
	concurrency string
	jsonOut     string
}

func runBench(ctx context.Context, args []string) error {
	var cfg benchConfig
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&cfg.apihost, "apihost", "", "server to measure; empty starts `stoke serve` as a child process on a temporary data dir")
	fs.StringVar(&cfg.auth, "auth", entity.GuestUUID+":"+entity.GuestKey, "uuid:key")
	fs.StringVar(&cfg.examples, "examples", "bin/examples", "directory with echo.wasm and hello.wasm (make examples)")
	fs.BoolVar(&cfg.quick, "quick", false, "a run under a minute: fewer samples, shorter load steps")
	fs.IntVar(&cfg.n, "n", 0, "sequential samples per latency path (default 3000, quick 400)")
	fs.IntVar(&cfg.firstN, "first", 0, "first invocations to measure, one fresh action each (default 200, quick 40)")
	fs.DurationVar(&cfg.duration, "duration", 0, "length of each throughput step (default 5s, quick 1.5s)")
	fs.StringVar(&cfg.concurrency, "concurrency", "1,4,16,64", "closed-loop concurrencies for the throughput steps")
	fs.StringVar(&cfg.jsonOut, "json", "", "also write every figure to this JSON file")
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
		cfg.duration = time.Duration(pick(cfg.quick, 1500, 5000)) * time.Millisecond
	}
	return bench(ctx, &cfg, os.Stdout, os.Stderr)
}

func pick(quick bool, q, full int) int {
	if quick {
		return q
	}
	return full
}

func bench(ctx context.Context, cfg *benchConfig, out, progress io.Writer) error {
	echo, err := os.ReadFile(filepath.Join(cfg.examples, "echo.wasm"))
	if err != nil {
		return fmt.Errorf("%w (run `make examples` first)", err)
	}
	hello, err := os.ReadFile(filepath.Join(cfg.examples, "hello.wasm"))
	if err != nil {
		return fmt.Errorf("%w (run `make examples` first)", err)
	}
	if cfg.apihost == "" {
		host, stop, err := startChildServer(ctx)
		if err != nil {
			return err
		}
		defer stop()
		cfg.apihost = host
	}
	cl, err := client.New(cfg.apihost, cfg.auth)
	if err != nil {
		return err
	}
	step := func(s string) { fmt.Fprintf(progress, "▸ %s\n", s) }
	var results []benchResult
	add := func(r benchResult) {
		results = append(results, r)
		fmt.Fprintf(progress, "  %-28s p50 %8.1f µs  p99 %8.1f µs  %9.0f ops/s\n", r.Name, r.P50us, r.P99us, r.OpsPerSec)
	}

	step("creating actions")
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	echoName, helloName, loopName := "bench-echo-"+suffix, "bench-hello-"+suffix, "bench-hello-loop-"+suffix
	for _, a := range []struct {
		name   string
		module []byte
		loop   bool
	}{{echoName, echo, false}, {helloName, hello, false}, {loopName, hello, true}} {
		if err := putWasm(ctx, cl, a.name, a.module, a.loop); err != nil {
			return err
		}
		defer cl.Actions.Delete(context.Background(), a.name)
	}
	params := json.RawMessage(`{"name":"bench"}`)
	invoke := func(name string) func() error {
		return func() error {
			r, err := cl.Actions.Invoke(ctx, name, params, client.InvokeOptions{Blocking: true, Result: true})
			if err != nil {
				return err
			}
			if !r.Success() {
				return fmt.Errorf("invoke %s: status %d: %s", name, r.Status, r.Result)
			}
			return nil
		}
	}

	step("warm path: blocking invoke through the API against /run on a warm sandbox")
	r, err := sequential("api-warm-wasm-echo", "blocking invoke ?result=true, WAT echo, warm", cfg.n, invoke(echoName))
	if err != nil {
		return err
	}
	add(r)
	direct, err := directRun(ctx, echo, cfg.n)
	if err != nil {
		return err
	}
	add(direct)
	for _, p := range []struct{ name, action, what string }{
		{"api-warm-wasm-go", helloName, "Go GOOS=wasip1 guest, fresh instance per activation"},
		{"api-warm-wasm-go-loop", loopName, "Go GOOS=wasip1 guest, wasm-mode loop"},
	} {
		r, err := sequential(p.name, "blocking invoke, "+p.what, pick(cfg.quick, 100, 500), invoke(p.action))
		if err != nil {
			return err
		}
		add(r)
	}

	step("first invocation: a new action per sample, module compiled at create")
	for _, f := range []struct {
		name   string
		module []byte
		loop   bool
	}{{"api-first-wasm-echo", echo, false}, {"api-first-wasm-go-loop", hello, true}} {
		var lat []time.Duration
		for i := 0; i < cfg.firstN; i++ {
			name := fmt.Sprintf("bench-first-%s-%d", suffix, i)
			if err := putWasm(ctx, cl, name, f.module, f.loop); err != nil {
				return err
			}
			t0 := time.Now()
			err := invoke(name)()
			lat = append(lat, time.Since(t0))
			cl.Actions.Delete(ctx, name)
			if err != nil {
				return err
			}
		}
		add(summarize(f.name, "first invoke of a freshly created action", lat, 0))
	}

	step("throughput: closed loop on the WAT echo")
	for _, c := range strings.Split(cfg.concurrency, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			return fmt.Errorf("--concurrency %q: want a list of positive numbers", cfg.concurrency)
		}
		r, err := closedLoop(fmt.Sprintf("api-throughput-c%d", n), n, cfg.duration, invoke(echoName))
		if err != nil {
			return err
		}
		add(r)
	}

	printBench(out, results)
	if w := results[0].P50us - direct.P50us; true {
		fmt.Fprintf(out, "\nwarm-path overhead of the platform (median): %.1f µs (API %.1f µs / direct %.1f µs = %.1f×)\n",
			w, results[0].P50us, direct.P50us, results[0].P50us/direct.P50us)
	}
	if cfg.jsonOut != "" {
		b, _ := json.MarshalIndent(map[string]any{"when": time.Now().UTC(), "results": results}, "", "  ")
		if err := os.WriteFile(cfg.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func putWasm(ctx context.Context, cl *client.Client, name string, module []byte, loop bool) error {
	a := &entity.Action{Name: name, Exec: entity.Exec{Kind: "wasm", Binary: true, Code: base64.StdEncoding.EncodeToString(module)}}
	if loop {
		a.Annotations = entity.KeyValues{{Key: "wasm-mode", Value: json.RawMessage(`"loop"`)}}
	}
	_, err := cl.Actions.Put(ctx, a, true)
	return err
}

// directRun measures /run on a warm wasm sandbox with no platform around
// it: the floor the API path is compared with.
func directRun(ctx context.Context, module []byte, n int) (benchResult, error) {
	dir, err := os.MkdirTemp("", "stoke-bench-wasm")
	if err != nil {
		return benchResult{}, err
	}
	defer os.RemoveAll(dir)
	b, err := wasm.New(wasm.Config{CacheDir: dir})
	if err != nil {
		return benchResult{}, err
	}
	defer b.Close(ctx)
	sb, err := b.Create(ctx, &sdk.Spec{Kind: "wasm", MemoryMB: entity.DefaultMemory})
	if err != nil {
		return benchResult{}, err
	}
	conn, err := b.Dial(sb)
	if err != nil {
		return benchResult{}, err
	}
	init, _ := sdk.InitBody(&sdk.Init{Name: "echo", Main: "main", Binary: true, Code: base64.StdEncoding.EncodeToString(module)})
	if rep, err := conn.Init(ctx, init); err != nil || rep.Status != 200 {
		return benchResult{}, fmt.Errorf("direct init: %v %v", rep, err)
	}
	run, _ := sdk.RunBody(&sdk.Run{Value: json.RawMessage(`{"name":"bench"}`), Namespace: "guest", ActionName: "/guest/echo",
		ActionVersion: "0.0.1", ActivationID: strings.Repeat("0", 32), Deadline: "0"})
	return sequential("direct-run-wasm-echo", "/run on a warm sandbox, in-process, no platform", n, func() error {
		rep, err := conn.Run(ctx, run)
		if err == nil && rep.Status != 200 {
			err = fmt.Errorf("direct run: status %d", rep.Status)
		}
		return err
	})
}

func sequential(name, what string, n int, f func() error) (benchResult, error) {
	for i := 0; i < min(n/10+1, 50); i++ { // warm up
		if err := f(); err != nil {
			return benchResult{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := f(); err != nil {
			return benchResult{}, fmt.Errorf("%s: %w", name, err)
		}
		lat = append(lat, time.Since(t0))
	}
	r := summarize(name, what, lat, time.Since(start))
	return r, nil
}

func closedLoop(name string, workers int, d time.Duration, f func() error) (benchResult, error) {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := f(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return benchResult{}, fmt.Errorf("%s: %w", name, err)
	}
	return summarize(name, fmt.Sprintf("closed loop, %d concurrent callers", workers), lat, time.Since(start)), nil
}

func summarize(name, what string, lat []time.Duration, wall time.Duration) benchResult {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	r := benchResult{Name: name, What: what, N: len(lat)}
	if len(lat) > 0 {
		r.P50us = us(lat[len(lat)/2])
		r.P99us = us(lat[min(len(lat)-1, len(lat)*99/100)])
		r.MeanUs = us(sum / time.Duration(len(lat)))
	}
	if wall == 0 {
		wall = sum
	}
	if wall > 0 {
		r.OpsPerSec = float64(len(lat)) / wall.Seconds()
	}
	return r
}

func printBench(w io.Writer, rs []benchResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tn\tp50 µs\tp99 µs\tmean µs\tops/s\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t\n", r.Name, r.N, r.P50us, r.P99us, r.MeanUs, r.OpsPerSec)
	}
	tw.Flush()
}

// startChildServer runs `stoke serve` from this binary on a free port with
// a throwaway data dir, so that the measured server is its own process.
func startChildServer(ctx context.Context) (string, func(), error) {
	dir, err := os.MkdirTemp("", "stoke-bench")
	if err != nil {
		return "", nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	ready := filepath.Join(dir, "ready")
	cmd := exec.CommandContext(ctx, self, "serve", "--port", "0", "--data-dir", filepath.Join(dir, "data"),
		"--ready-file", ready, "--log-level", "warn", "--concurrent-invocations", "-1")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		os.RemoveAll(dir)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			return "http://" + string(b), stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("stoke serve did not start")
}
