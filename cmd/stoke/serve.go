package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/core/cache"
	"github.com/stokehq/stoke/core/controller"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/invoker"
	"github.com/stokehq/stoke/core/metrics"
	"github.com/stokehq/stoke/core/record"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/core/store/sqlite"
	"github.com/stokehq/stoke/plugins"
	"github.com/stokehq/stoke/sdk"
)

// serveConfig is everything `stoke serve` can be told. Each flag can also
// be set as STOKE_<FLAG> in the environment (--data-dir is STOKE_DATA_DIR).
type serveConfig struct {
	host             string
	port             int
	dataDir          string
	pluginDir        string
	runtimesDir      string
	containerBackend string
	wasmPlugin       bool
	subjects         multiFlag
	subjectsFile     string
	noGuest          bool
	memoryMB         int
	pauseGrace       time.Duration
	keepAlive        time.Duration
	concurrent       int
	perMinute        int
	pprof            bool
	logLevel         string
	readyFile        string
	shutdownGrace    time.Duration
	embeddedKafka    bool // cluster.go: serveBus
	kafka            string
}

func serveFlags(cfg *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&cfg.port, "port", 3233, "port of the REST API")
	fs.StringVar(&cfg.dataDir, "data-dir", defaultDataDir(), "where the database and compiled modules live")
	fs.StringVar(&cfg.pluginDir, "plugin-dir", besideBinary("plugins", ""), "directory of backend plugin binaries (stoke-backend-*); default: plugins next to the stoke binary")
	fs.StringVar(&cfg.runtimesDir, "runtimes-dir", besideBinary("runtimes", filepath.Join("bin", "runtimes")), "runtime root filesystems for runc (make images)")
	fs.StringVar(&cfg.containerBackend, "container-backend", "docker", "default backend of the container kinds: docker or runc")
	fs.BoolVar(&cfg.wasmPlugin, "wasm-plugin", false, "run the wasm backend from --plugin-dir instead of in-process")
	fs.Var(&cfg.subjects, "subject", "add a subject NAMESPACE:UUID:KEY (repeatable)")
	fs.StringVar(&cfg.subjectsFile, "subjects-file", "", "file of subjects, one NAMESPACE:UUID:KEY per line")
	fs.BoolVar(&cfg.noGuest, "no-guest", false, "do not create the well-known guest development subject")
	fs.IntVar(&cfg.memoryMB, "memory", 2048, "memory budget of the invoker's sandboxes, MiB")
	fs.DurationVar(&cfg.pauseGrace, "pause-grace", 10*time.Second, "idle time before a sandbox is paused (0: never)")
	fs.DurationVar(&cfg.keepAlive, "keep-alive", 10*time.Minute, "idle time before a sandbox is destroyed")
	fs.IntVar(&cfg.concurrent, "concurrent-invocations", 500, "per-namespace limit of invocations in flight (0: off)")
	fs.IntVar(&cfg.perMinute, "invocations-per-minute", 0, "per-namespace limit of invocations per minute (0: off)")
	fs.BoolVar(&cfg.pprof, "pprof", false, "serve /debug/pprof on the API port")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.readyFile, "ready-file", "", "write the listening address to this file once serving (for tests and scripts)")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 10*time.Second, "how long to wait for activations in flight at shutdown")
	fs.BoolVar(&cfg.embeddedKafka, "embedded-kafka", false, "carry activations over Kafka through an embedded broker instead of the in-memory bus")
	fs.StringVar(&cfg.kafka, "kafka", "", "carry activations over this Kafka cluster (host:port,...) instead of the in-memory bus")
	return fs
}

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".stoke", "data")
	}
	return ".stoke-data"
}

// envOverrides sets each flag not given on the command line from
// STOKE_<NAME>, so that containers and scripts can configure by environment.
func envOverrides(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		key := "STOKE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", key, v, e)
			}
		}
	})
	return err
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runServe(ctx context.Context, args []string) error {
	var cfg serveConfig
	fs := serveFlags(&cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envOverrides(fs); err != nil {
		return err
	}
	return serve(ctx, &cfg)
}

func serve(ctx context.Context, cfg *serveConfig) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	db, err := sqlite.Open(filepath.Join(cfg.dataDir, "stoke.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := cache.New(db, cache.Config{})
	if err != nil {
		return err
	}
	if err := addSubjects(ctx, st, cfg); err != nil {
		return err
	}
	backends, manifest, closeBackends, err := loadRuntimes(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeBackends()

	records := record.New(db, record.Config{})
	b, closeBus, err := serveBus(cfg, log) // cluster.go
	if err != nil {
		return err
	}
	defer closeBus()

	inv, err := invoker.New(invoker.Config{
		ID: 0, Bus: b, Store: st, Records: records, Manifest: manifest, Backends: backends,
		MemoryMB: cfg.memoryMB, PauseGrace: offIfZero(cfg.pauseGrace), KeepAlive: cfg.keepAlive, Logger: log,
	})
	if err != nil {
		return err
	}
	ctl, err := controller.New(controller.Config{
		ID: 0, Bus: b, Store: st, Records: records, Manifest: manifest, Logger: log,
		ConcurrentInvocations: offIfZero(cfg.concurrent), InvocationsPerMinute: cfg.perMinute,
		OnActionStored: inv.Prepare,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/", ctl.Handler())
	mux.Handle("/metrics", metrics.Handler())
	if cfg.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, fmt.Sprint(cfg.port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- inv.Run(runCtx) }()
	go func() { errc <- ctl.Run(runCtx) }()
	go func() { errc <- srv.Serve(ln) }()

	addr := ln.Addr().String()
	var served []string
	for _, r := range manifest.All() {
		served = append(served, r.Kind+"@"+strings.Join(r.Backends, "|"))
	}
	log.Info("stoke serving", "api", "http://"+addr+"/api/v1", "data", cfg.dataDir, "kinds", served)
	if !cfg.noGuest {
		fmt.Fprintf(os.Stderr, "\nNOTICE: the guest subject uses OpenWhisk's public development key.\n"+
			"        Anyone who can reach %s can use it. Do not expose this server.\n"+
			"        wsk property set --apihost http://%s --auth %s:%s\n\n",
			addr, addr, entity.GuestUUID, entity.GuestKey)
	}
	if cfg.readyFile != "" {
		if err := os.WriteFile(cfg.readyFile, []byte(addr), 0o644); err != nil {
			return err
		}
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer scancel()
	_ = srv.Shutdown(sctx)
	cancel()
	if err := inv.Close(sctx); err != nil {
		log.Warn("invoker close", "err", err)
	}
	if err := records.Close(sctx); err != nil {
		log.Warn("flush activation records", "err", err)
	}
	return nil
}

// subjects returns the identities to create: the guest unless --no-guest,
// then --subjects-file, then each --subject; a later one with the same
// UUID replaces an earlier one.
func subjects(cfg *serveConfig) ([]*entity.Identity, error) {
	var ids []*entity.Identity
	if !cfg.noGuest {
		ids = append(ids, &entity.Identity{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey})
	}
	var lines []string
	if cfg.subjectsFile != "" {
		f, err := os.Open(cfg.subjectsFile)
		if err != nil {
			return nil, fmt.Errorf("subjects file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				lines = append(lines, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("subjects file: %w", err)
		}
	}
	lines = append(lines, cfg.subjects...)
	for _, line := range lines {
		id, err := parseSubject(line)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// parseSubject reads NAMESPACE:UUID:KEY.
func parseSubject(s string) (*entity.Identity, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, fmt.Errorf("subject %q: want NAMESPACE:UUID:KEY", s)
	}
	id := &entity.Identity{Subject: parts[0], Namespace: parts[0], UUID: parts[1], Key: parts[2]}
	if err := entity.ValidateIdentity(id); err != nil {
		return nil, fmt.Errorf("subject %q: %w", s, err)
	}
	return id, nil
}

// loadBackends returns the backends by name: wasm in-process (unless
// --wasm-plugin) and the plugins in --plugin-dir, each configured for this
// host. A plugin whose engine is missing here (no docker daemon, no runc or
// not root) fails to start; it is logged and left out.
func loadBackends(ctx context.Context, cfg *serveConfig, log *slog.Logger) (map[string]sdk.Backend, func(), error) {
	backends := map[string]sdk.Backend{}
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if !cfg.wasmPlugin {
		w, err := wasm.New(wasm.Config{CacheDir: filepath.Join(cfg.dataDir, "wasm-cache"), Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("wasm backend: %w", err)
		}
		closers = append(closers, func() { w.Close(context.Background()) })
		b, err := plugins.InProcess(ctx, w)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		backends["wasm"] = b
	}
	if cfg.pluginDir != "" {
		paths, err := plugins.Discover(cfg.pluginDir)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		env := pluginEnv(cfg)
		for _, path := range paths {
			if !cfg.wasmPlugin && filepath.Base(path) == plugins.Prefix+"wasm" {
				continue // linked in already
			}
			p, err := plugins.Launch(ctx, path, plugins.Options{Logger: log, Env: env})
			if err != nil {
				log.Warn("backend plugin not loaded", "plugin", path, "err", err)
				continue
			}
			info, err := p.Info(ctx)
			if err != nil || backends[info.Name] != nil {
				log.Warn("backend plugin not loaded", "plugin", path, "err", err, "duplicate", err == nil)
				p.Close()
				continue
			}
			closers = append(closers, func() { p.Close() })
			backends[info.Name] = p.Backend()
		}
	}
	if cfg.wasmPlugin && backends["wasm"] == nil {
		closeAll()
		return nil, nil, fmt.Errorf("--wasm-plugin: no stoke-backend-wasm plugin in --plugin-dir %q", cfg.pluginDir)
	}
	return backends, closeAll, nil
}

// pluginEnv configures the container plugins for this host: labels that
// tell this server's sandboxes from others' (and let a restart remove the
// ones a crash left), and where the runc root filesystems are.
func pluginEnv(cfg *serveConfig) []string {
	abs, _ := filepath.Abs(cfg.dataDir)
	sum := sha256.Sum256([]byte(abs))
	host := "stoke.host=" + hex.EncodeToString(sum[:6])
	env := []string{
		"STOKE_DOCKER_LABELS=" + host, "STOKE_DOCKER_CLEANUP=true",
		"STOKE_RUNC_LABELS=" + host,
	}
	var kinds []string
	for kind, name := range map[string]string{"nodejs:20": "nodejs20", "python:3": "python3", "native": "native"} {
		dir := filepath.Join(cfg.runtimesDir, name, "rootfs")
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			abs, _ := filepath.Abs(dir)
			kinds = append(kinds, kind+"="+abs)
		}
	}
	if len(kinds) > 0 {
		sort.Strings(kinds)
		env = append(env, "STOKE_RUNC_KINDS="+strings.Join(kinds, ","))
	}
	return env
}

// addSubjects stores the subjects the flags ask for (subjects).
func addSubjects(ctx context.Context, st store.Store, cfg *serveConfig) error {
	ids, err := subjects(cfg)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := st.PutIdentity(ctx, id); err != nil {
			return fmt.Errorf("add subject %s: %w", id.Namespace, err)
		}
	}
	return nil
}

// loadRuntimes loads the backends (loadBackends) and fits the runtime
// manifest to the kinds they run.
func loadRuntimes(ctx context.Context, cfg *serveConfig, log *slog.Logger) (map[string]sdk.Backend, *runtimes.Manifest, func(), error) {
	backends, closeBackends, err := loadBackends(ctx, cfg, log)
	if err != nil {
		return nil, nil, nil, err
	}
	kinds, err := backendKinds(ctx, backends)
	if err != nil {
		closeBackends()
		return nil, nil, nil, err
	}
	return backends, runtimes.Builtin().Resolve(kinds, cfg.containerBackend), closeBackends, nil
}

// offIfZero maps a flag's zero ("off", "never") to the negative value the
// controller and invoker configs read that way; their zero means default.
func offIfZero[T int | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// backendKinds asks each backend which kinds it runs.
func backendKinds(ctx context.Context, backends map[string]sdk.Backend) (map[string][]string, error) {
	out := make(map[string][]string, len(backends))
	for name, b := range backends {
		info, err := b.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", name, err)
		}
		out[name] = info.Kinds
	}
	return out, nil
}

// besideBinary is dir next to the running binary (bin/plugins next to
// bin/stoke) if it exists, else fallback.
func besideBinary(dir, fallback string) string {
	if exe, err := os.Executable(); err == nil {
		d := filepath.Join(filepath.Dir(exe), dir)
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return fallback
}
