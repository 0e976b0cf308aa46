package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/core/bus/memory"
	"github.com/stokehq/stoke/core/cache"
	"github.com/stokehq/stoke/core/controller"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/invoker"
	"github.com/stokehq/stoke/core/record"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store/sqlite"
	"github.com/stokehq/stoke/plugins"
	"github.com/stokehq/stoke/sdk"
)

// serveConfig is everything `stoke serve` can be told. Each flag can also
// be set as STOKE_<FLAG> in the environment (--data-dir is STOKE_DATA_DIR).
type serveConfig struct {
	host          string
	port          int
	dataDir       string
	pluginDir     string
	wasmPlugin    bool
	subjects      multiFlag
	subjectsFile  string
	noGuest       bool
	memoryMB      int
	pauseGrace    time.Duration
	keepAlive     time.Duration
	concurrent    int
	perMinute     int
	pprof         bool
	logLevel      string
	readyFile     string
	shutdownGrace time.Duration
}

func serveFlags(cfg *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&cfg.port, "port", 3233, "port of the REST API")
	fs.StringVar(&cfg.dataDir, "data-dir", defaultDataDir(), "where the database and compiled modules live")
	fs.StringVar(&cfg.pluginDir, "plugin-dir", "", "directory of backend plugin binaries (stoke-backend-*)")
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
	ids, err := subjects(cfg)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := st.PutIdentity(ctx, id); err != nil {
			return fmt.Errorf("add subject %s: %w", id.Namespace, err)
		}
	}

	backends, closeBackends, err := loadBackends(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeBackends()
	loaded := map[string]bool{}
	for name := range backends {
		loaded[name] = true
	}
	manifest := runtimes.Builtin().Only(loaded)

	records := record.New(db, record.Config{})
	b := memory.New(0)
	defer b.Close()

	// The invoker reads zero as "default"; the flag's zero means never.
	if cfg.pauseGrace == 0 {
		cfg.pauseGrace = -1
	}
	inv, err := invoker.New(invoker.Config{
		ID: 0, Bus: b, Store: st, Records: records, Manifest: manifest, Backends: backends,
		MemoryMB: cfg.memoryMB, PauseGrace: cfg.pauseGrace, KeepAlive: cfg.keepAlive, Logger: log,
	})
	if err != nil {
		return err
	}
	ctl, err := controller.New(controller.Config{
		ID: 0, Bus: b, Store: st, Records: records, Manifest: manifest, Logger: log,
		ConcurrentInvocations: cfg.concurrent, InvocationsPerMinute: cfg.perMinute,
		OnActionStored: inv.Prepare,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/", ctl.Handler())
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
	kinds := []string{}
	for _, r := range manifest.All() {
		kinds = append(kinds, r.Kind)
	}
	log.Info("stoke serving", "api", "http://"+addr+"/api/v1", "data", cfg.dataDir, "kinds", kinds)
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
// --wasm-plugin) and every plugin in --plugin-dir.
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
		host, err := plugins.Load(ctx, cfg.pluginDir, plugins.Options{Logger: log})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { host.Close() })
		for name, b := range host.Backends() {
			if _, dup := backends[name]; dup {
				log.Warn("plugin ignored: backend already loaded in-process", "backend", name)
				continue
			}
			backends[name] = b
		}
	}
	if cfg.wasmPlugin && backends["wasm"] == nil {
		closeAll()
		return nil, nil, fmt.Errorf("--wasm-plugin: no stoke-backend-wasm plugin in --plugin-dir %q", cfg.pluginDir)
	}
	return backends, closeAll, nil
}
