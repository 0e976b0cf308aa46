// Package wasm is the WebAssembly sandbox backend: it runs WASI preview1
// command modules in-process with wazero, speaking "ActionLoop over WASI
// stdio" (the /run envelope as one JSON line on stdin, the result as the last
// JSON line on stdout, logs on stderr, __OW_* in the environment).
//
// A sandbox is only a record: creating one compiles nothing and starts
// nothing, so a cold start costs an instantiate of a module that Prepare
// compiled when the action was stored. By default every activation gets a
// fresh instance (maximal isolation, ~tens of µs for small guests); the
// annotation wasm-mode=loop keeps one warm instance that reads one envelope
// line per activation, for guests with a heavy start-up such as Go
// GOOS=wasip1.
//
// The host reaches a sandbox in-process through Dial (no HTTP on the warm
// path). For plugin mode, Listen serves the same /init and /run over HTTP on
// a loopback listener.
package wasm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	wasi "github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/stokehq/stoke/sdk"
)

// Version is the backend's own version, reported by Info.
const Version = "0.1.0"

// Kind is the only runtime kind this backend runs.
const Kind = "wasm"

// Annotation values for sdk.Spec.Annotations["wasm-mode"].
const (
	ModeAnnotation = "wasm-mode"
	ModeInstance   = "instance" // a fresh instance per activation (default)
	ModeLoop       = "loop"     // one warm instance, one envelope line per activation
)

// Defaults for Config's bounds.
const (
	DefaultMaxStdoutBytes = 2 << 20
	DefaultMaxStderrBytes = 10 << 20
)

// Config configures a Backend. The zero value works.
type Config struct {
	// CacheDir holds wazero's on-disk compilation cache, so that a restarted
	// host does not compile its modules again. Empty keeps it in memory.
	CacheDir string
	// MaxStdoutBytes bounds the result line (and any one stdout line) of an
	// activation; a bigger result fails the activation.
	MaxStdoutBytes int
	// MaxStderrBytes bounds the log bytes (stdout log lines and stderr) of
	// one activation; beyond it lines are dropped with a notice.
	MaxStderrBytes int
	// Logger gets the backend's own diagnostics; nil discards them.
	Logger *slog.Logger
}

// Backend runs wasm sandboxes. It implements sdk.Backend, sdk.Preparer and
// sdk.Dialer. Every method is safe for concurrent use.
type Backend struct {
	cfg Config
	log *slog.Logger

	// One Runtime for all sandboxes: compiled code is shared by every
	// sandbox running the same action, and WASI is instantiated once. Guests
	// are anonymous instances importing only WASI, so they cannot reach each
	// other; memory limits are per instance (see memory.go).
	rt    wazero.Runtime
	cache wazero.CompilationCache
	mods  modules
	// compiles counts CompileModule calls, so tests can tell Prepare worked.
	compiles atomic.Int64
	mem      *memPool

	tag  string // random per-backend prefix of sandbox ids
	next atomic.Uint64

	mu        sync.RWMutex
	sandboxes map[string]*sandbox
	srv       *http.Server
	addr      string // "127.0.0.1:PORT" once listening
}

var (
	_ sdk.Backend  = (*Backend)(nil)
	_ sdk.Preparer = (*Backend)(nil)
	_ sdk.Dialer   = (*Backend)(nil)
)

// New creates a Backend: one wazero runtime with WASI instantiated.
func New(cfg Config) (*Backend, error) {
	if cfg.MaxStdoutBytes <= 0 {
		cfg.MaxStdoutBytes = DefaultMaxStdoutBytes
	}
	if cfg.MaxStderrBytes <= 0 {
		cfg.MaxStderrBytes = DefaultMaxStderrBytes
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache %s: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	ctx := context.Background()
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		// Deadlines and Destroy must stop a guest that never yields.
		WithCloseOnContextDone(true)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("wasm: instantiate wasi: %w", err)
	}
	var tag [4]byte
	_, _ = rand.Read(tag[:])
	b := &Backend{
		cfg:       cfg,
		log:       lg,
		rt:        rt,
		cache:     cache,
		mem:       newMemPool(),
		tag:       hex.EncodeToString(tag[:]),
		sandboxes: make(map[string]*sandbox),
	}
	b.mods.m = make(map[string]*module)
	return b, nil
}

// Info describes the backend.
func (b *Backend) Info(context.Context) (*sdk.Info, error) {
	return &sdk.Info{
		Name:       "wasm",
		Version:    Version,
		APIVersion: sdk.APIVersion,
		Kinds:      []string{Kind},
		Capabilities: sdk.Capabilities{
			Prepare:     true,
			MemoryLimit: true,
		},
	}, nil
}

// Create records a sandbox. It compiles and starts nothing: /init does.
func (b *Backend) Create(ctx context.Context, spec *sdk.Spec) (*sdk.Sandbox, error) {
	if spec == nil {
		return nil, fmt.Errorf("wasm: create: nil spec: %w", sdk.ErrInvalid)
	}
	if spec.Kind != Kind {
		return nil, fmt.Errorf("wasm: create kind %q: %w", spec.Kind, sdk.ErrUnsupported)
	}
	if spec.MemoryMB < 0 {
		return nil, fmt.Errorf("wasm: create: memory %d MiB: %w", spec.MemoryMB, sdk.ErrInvalid)
	}
	mode := spec.Annotations[ModeAnnotation]
	switch mode {
	case "":
		mode = ModeInstance
	case ModeInstance, ModeLoop:
	default:
		return nil, fmt.Errorf("wasm: create: %s=%q, want %q or %q: %w",
			ModeAnnotation, mode, ModeInstance, ModeLoop, sdk.ErrInvalid)
	}
	id := fmt.Sprintf("wasm-%s-%d", b.tag, b.next.Add(1))
	sb := newSandbox(b, id, mode, spec)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rt == nil {
		return nil, fmt.Errorf("wasm: create: backend closed: %w", sdk.ErrResources)
	}
	sb.info.Endpoint = "wasm://" + id
	if b.addr != "" {
		sb.info.Endpoint = "http://" + b.addr + "/s/" + id
	}
	b.sandboxes[id] = sb
	return sb.record(), nil
}

// Pause is not supported: an idle wasm sandbox uses no CPU.
func (b *Backend) Pause(_ context.Context, id string) error {
	if _, err := b.lookup(id); err != nil {
		return err
	}
	return fmt.Errorf("wasm: pause %s: %w", id, sdk.ErrUnsupported)
}

// Resume is not supported, like Pause.
func (b *Backend) Resume(_ context.Context, id string) error {
	if _, err := b.lookup(id); err != nil {
		return err
	}
	return fmt.Errorf("wasm: resume %s: %w", id, sdk.ErrUnsupported)
}

// Destroy stops the sandbox's instance (if any) and ends its log streams.
func (b *Backend) Destroy(_ context.Context, id string) error {
	b.mu.Lock()
	sb, ok := b.sandboxes[id]
	delete(b.sandboxes, id)
	b.mu.Unlock()
	if !ok {
		if b.destroyed(id) {
			return nil
		}
		return fmt.Errorf("wasm: destroy %s: %w", id, sdk.ErrNotFound)
	}
	sb.close()
	return nil
}

// destroyed reports whether id is one this backend handed out, so it must
// have been destroyed already (ids are never reused).
func (b *Backend) destroyed(id string) bool {
	rest, ok := strings.CutPrefix(id, "wasm-"+b.tag+"-")
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return err == nil && n > 0 && n <= b.next.Load()
}

// Logs streams the sandbox's log lines from now until it is destroyed.
func (b *Backend) Logs(_ context.Context, id string) (sdk.LogStream, error) {
	sb, err := b.lookup(id)
	if err != nil {
		return nil, err
	}
	return sb.logs.subscribe(), nil
}

// List returns the sandboxes whose labels include all of labels.
func (b *Backend) List(_ context.Context, labels map[string]string) ([]*sdk.Sandbox, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []*sdk.Sandbox
	for _, sb := range b.sandboxes {
		if hasLabels(sb.info.Labels, labels) {
			out = append(out, sb.record())
		}
	}
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// Dial returns an in-process connection to the sandbox's action protocol.
func (b *Backend) Dial(s *sdk.Sandbox) (sdk.Conn, error) {
	if s == nil {
		return nil, fmt.Errorf("wasm: dial: nil sandbox: %w", sdk.ErrInvalid)
	}
	sb, err := b.lookup(s.ID)
	if err != nil {
		return nil, err
	}
	return conn{sb}, nil
}

// Close destroys every sandbox, stops the HTTP listener and closes the
// runtime. The Backend is unusable afterwards.
func (b *Backend) Close(ctx context.Context) error {
	b.mu.Lock()
	sbs := b.sandboxes
	b.sandboxes = map[string]*sandbox{}
	srv := b.srv
	rt := b.rt
	b.rt = nil
	b.srv = nil
	b.mu.Unlock()
	for _, sb := range sbs {
		sb.close()
	}
	var errs []error
	if srv != nil {
		errs = append(errs, srv.Close())
	}
	if rt != nil {
		errs = append(errs, rt.Close(ctx))
	}
	errs = append(errs, b.cache.Close(ctx))
	return errors.Join(errs...)
}

func (b *Backend) lookup(id string) (*sandbox, error) {
	b.mu.RLock()
	sb, ok := b.sandboxes[id]
	b.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("wasm: sandbox %s: %w", id, sdk.ErrNotFound)
	}
	return sb, nil
}

// runtime returns the shared runtime, or nil once closed.
func (b *Backend) runtime() wazero.Runtime {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.rt
}

// listening returns the HTTP address, for tests and wiring.
func (b *Backend) listenAddr() string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.addr
}
