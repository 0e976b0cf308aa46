package main

// The parts of a cluster as separate processes: `stoke kafka` (the
// embedded broker, for development and tests), `stoke controller` and
// `stoke invoker`, talking over Kafka and sharing a store (PostgreSQL, or
// SQLite on one machine). Also the bus choice of `stoke serve`.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stokehq/stoke/core/balancer"
	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/bus/kafka"
	"github.com/stokehq/stoke/core/bus/kafka/broker"
	"github.com/stokehq/stoke/core/bus/memory"
	"github.com/stokehq/stoke/core/cache"
	"github.com/stokehq/stoke/core/controller"
	"github.com/stokehq/stoke/core/invoker"
	"github.com/stokehq/stoke/core/metrics"
	"github.com/stokehq/stoke/core/record"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/core/store/postgres"
	"github.com/stokehq/stoke/core/store/sqlite"
)

// clusterCacheLife is the entity cache's life window in a cluster: another
// process's update of an action is seen by a controller at the latest
// after it. (An invoker also re-reads on a revision mismatch, so it never
// runs older code than the controller asked for.)
const clusterCacheLife = 5 * time.Second

// newLogger builds the text logger every command uses.
func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// openStore opens postgres://... (or postgresql://...), sqlite:///path or
// a plain path to a SQLite file.
func openStore(ctx context.Context, url string) (store.Store, error) {
	switch {
	case url == "":
		return nil, errors.New("--store: required (postgres://..., sqlite:///path or a path)")
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	case strings.HasPrefix(url, "sqlite://"):
		return sqlite.Open(strings.TrimPrefix(url, "sqlite://"))
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("--store %q: unknown scheme (want postgres:// or sqlite://)", url)
	}
	return sqlite.Open(url)
}

// writeReady writes the file tests and scripts wait for.
func writeReady(path, addr string) error {
	if path == "" {
		return nil
	}
	// Write then rename, so a reader never sees half an address.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// serveBus is the bus of `stoke serve`: in memory by default, an embedded
// broker with --embedded-kafka, a real cluster with --kafka. The returned
// function closes the bus and the broker.
func serveBus(cfg *serveConfig, log *slog.Logger) (bus.Bus, func(), error) {
	if !cfg.embeddedKafka && cfg.kafka == "" {
		b := memory.New(0)
		return b, func() { b.Close() }, nil
	}
	if cfg.embeddedKafka && cfg.kafka != "" {
		return nil, nil, errors.New("--embedded-kafka and --kafka exclude each other")
	}
	brokers := cfg.kafka
	var br *broker.Broker
	if cfg.embeddedKafka {
		var err error
		br, err = broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: log})
		if err != nil {
			return nil, nil, err
		}
		brokers = br.Addr()
		log.Info("embedded kafka broker", "addr", brokers)
	}
	b, err := kafka.New(kafka.Config{Brokers: brokers, ClientID: "stoke-serve", CreateTopics: true, Logger: log})
	if err != nil {
		if br != nil {
			br.Close()
		}
		return nil, nil, err
	}
	return b, func() {
		b.Close()
		if br != nil {
			br.Close()
		}
	}, nil
}

// runKafka runs the embedded broker as a process of its own.
func runKafka(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9092", "host:port to listen on (port 0: any free port)")
	dataDir := fs.String("data-dir", "", "persist topics, log and offsets here (empty: in memory)")
	readyFile := fs.String("ready-file", "", "write the broker address to this file once listening")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envOverrides(fs); err != nil {
		return err
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	br, err := broker.Start(broker.Config{Listen: *listen, DataDir: *dataDir, Logger: log})
	if err != nil {
		return err
	}
	defer br.Close()
	log.Info("kafka broker listening", "addr", br.Addr(), "data", *dataDir)
	if err := writeReady(*readyFile, br.Addr()); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// clusterFlags are the flags controller and invoker share.
type clusterFlags struct {
	kafka, store, logLevel, readyFile string
	id                                int
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.kafka, "kafka", "127.0.0.1:9092", "Kafka bootstrap brokers, host:port[,host:port...]")
	fs.StringVar(&c.store, "store", "", "store: postgres://..., sqlite:///path or a path to a SQLite file")
	fs.IntVar(&c.id, "id", 0, "index of this controller or invoker")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.readyFile, "ready-file", "", "write the listening address (or the id) to this file once running")
}

// open starts what both parts need: logger, store and bus.
func (c *clusterFlags) open(ctx context.Context, role string) (*slog.Logger, store.Store, *kafka.Bus, error) {
	if c.id < 0 {
		return nil, nil, nil, fmt.Errorf("--id %d: must not be negative", c.id)
	}
	log, err := newLogger(c.logLevel)
	if err != nil {
		return nil, nil, nil, err
	}
	log = log.With("role", role, "id", c.id)
	db, err := openStore(ctx, c.store)
	if err != nil {
		return nil, nil, nil, err
	}
	host, _ := os.Hostname()
	b, err := kafka.New(kafka.Config{
		Brokers: c.kafka, ClientID: fmt.Sprintf("stoke-%s%d-%s-%d", role, c.id, host, os.Getpid()),
		CreateTopics: true, Logger: log,
	})
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return log, db, b, nil
}

// runController runs the REST API and the load balancer.
func runController(ctx context.Context, args []string) error {
	var cf clusterFlags
	var sc serveConfig
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	cf.register(fs)
	fs.StringVar(&sc.host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&sc.port, "port", 3233, "port of the REST API (0: any free port)")
	fs.Var(&sc.subjects, "subject", "add a subject NAMESPACE:UUID:KEY (repeatable)")
	fs.StringVar(&sc.subjectsFile, "subjects-file", "", "file of subjects, one NAMESPACE:UUID:KEY per line")
	fs.BoolVar(&sc.noGuest, "no-guest", false, "do not create the well-known guest development subject")
	fs.IntVar(&sc.concurrent, "concurrent-invocations", 500, "per-namespace limit of invocations in flight (0: off)")
	fs.IntVar(&sc.perMinute, "invocations-per-minute", 0, "per-namespace limit of invocations per minute (0: off)")
	controllers := fs.Int("controllers", 1, "how many controllers share the invokers (each places its share of their memory)")
	grace := fs.Duration("completion-grace", time.Minute, "how long past an action's timeout to wait for its completion before completing it as a whisk error")
	offline := fs.Duration("offline-after", 10*time.Second, "an invoker without a ping for this long gets no activations")
	cacheLife := fs.Duration("cache-life", clusterCacheLife, "how long a cached action or identity is served before the store is read again")
	containerBackend := fs.String("container-backend", "docker", "default backend of the container kinds: docker or runc (as the invokers')")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envOverrides(fs); err != nil {
		return err
	}
	log, db, b, err := cf.open(ctx, "controller")
	if err != nil {
		return err
	}
	defer db.Close()
	defer b.Close()
	st, err := cache.New(db, cache.Config{LifeWindow: *cacheLife})
	if err != nil {
		return err
	}
	if err := addSubjects(ctx, st, &sc); err != nil {
		return err
	}
	bal := balancer.New(balancer.Config{Controllers: *controllers, OfflineAfter: *offline, Logger: log})
	ctl, err := controller.New(controller.Config{
		ID: cf.id, Bus: b, Store: st, Manifest: clusterManifest(*containerBackend), Balancer: bal, Logger: log,
		ConcurrentInvocations: offIfZero(sc.concurrent), InvocationsPerMinute: sc.perMinute, CompletionGrace: *grace,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(sc.host, fmt.Sprint(sc.port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", ctl.Handler())
	mux.Handle("/metrics", metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- bal.Run(runCtx, b) }()
	go func() { errc <- ctl.Run(runCtx) }()
	go func() { errc <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	log.Info("controller serving", "api", "http://"+addr+"/api/v1", "kafka", cf.kafka)
	if err := writeReady(cf.readyFile, addr); err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	if errors.Is(runErr, http.ErrServerClosed) || errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	return runErr
}

// runInvoker runs one invoker: it consumes invoker<ID>, pings, and writes
// the activation records to the shared store.
func runInvoker(ctx context.Context, args []string) error {
	var cf clusterFlags
	var sc serveConfig
	fs := flag.NewFlagSet("invoker", flag.ContinueOnError)
	cf.register(fs)
	fs.StringVar(&sc.dataDir, "data-dir", defaultDataDir(), "where compiled modules are cached")
	fs.StringVar(&sc.pluginDir, "plugin-dir", besideBinary("plugins", ""), "directory of backend plugin binaries (stoke-backend-*); default: plugins next to the stoke binary")
	fs.StringVar(&sc.runtimesDir, "runtimes-dir", besideBinary("runtimes", filepath.Join("bin", "runtimes")), "runtime root filesystems for runc (make images)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on this address (host:port)")
	fs.BoolVar(&sc.wasmPlugin, "wasm-plugin", false, "run the wasm backend from --plugin-dir instead of in-process")
	fs.StringVar(&sc.containerBackend, "container-backend", "docker", "default backend of the container kinds: docker or runc")
	fs.IntVar(&sc.memoryMB, "memory", 2048, "memory budget of the invoker's sandboxes, MiB")
	fs.DurationVar(&sc.pauseGrace, "pause-grace", 10*time.Second, "idle time before a sandbox is paused (0: never)")
	fs.DurationVar(&sc.keepAlive, "keep-alive", 10*time.Minute, "idle time before a sandbox is destroyed")
	fs.DurationVar(&sc.shutdownGrace, "shutdown-grace", 10*time.Second, "how long to wait for activations in flight at shutdown")
	cacheLife := fs.Duration("cache-life", clusterCacheLife, "how long a cached action is served before the store is read again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envOverrides(fs); err != nil {
		return err
	}
	log, db, b, err := cf.open(ctx, "invoker")
	if err != nil {
		return err
	}
	defer db.Close()
	defer b.Close()
	st, err := cache.New(db, cache.Config{LifeWindow: *cacheLife})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(sc.dataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	sc.dataDir = filepath.Join(sc.dataDir, fmt.Sprint("invoker", cf.id))
	backends, manifest, closeBackends, err := loadRuntimes(ctx, &sc, log)
	if err != nil {
		return err
	}
	defer closeBackends()
	records := record.New(db, record.Config{Log: log})
	inv, err := invoker.New(invoker.Config{
		ID: cf.id, Bus: b, Store: st, Records: records, Manifest: manifest, Backends: backends,
		MemoryMB: sc.memoryMB, PauseGrace: offIfZero(sc.pauseGrace), KeepAlive: sc.keepAlive, Logger: log,
	})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- inv.Run(runCtx) }()
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		msrv := &http.Server{Handler: metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
		defer msrv.Close()
		go func() { errc <- msrv.Serve(ln) }()
	}
	log.Info("invoker running", "kafka", cf.kafka, "memoryMB", sc.memoryMB)
	if err := writeReady(cf.readyFile, fmt.Sprint(cf.id)); err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	sctx, scancel := context.WithTimeout(context.Background(), sc.shutdownGrace)
	defer scancel()
	if err := inv.Close(sctx); err != nil {
		log.Warn("invoker close", "err", err)
	}
	cancel()
	if err := records.Close(sctx); err != nil {
		log.Warn("flush activation records", "err", err)
	}
	return runErr
}

// clusterManifest is the controller's view of the kinds: it validates
// actions for invokers it does not see, so it assumes the backends Stoke
// ships (wasm, docker, runc), with containerBackend the default of the
// container kinds, as the invokers are told.
func clusterManifest(containerBackend string) *runtimes.Manifest {
	var containers []string
	for _, r := range runtimes.Builtin().All() {
		if r.Backend == runtimes.Container {
			containers = append(containers, r.Kind)
		}
	}
	return runtimes.Builtin().Resolve(map[string][]string{
		"wasm": {"wasm"}, "docker": containers, "runc": containers,
	}, containerBackend)
}
