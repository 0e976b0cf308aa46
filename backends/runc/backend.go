// Package runc is the OCI container backend: it drives the runc binary
// (os/exec, never the runc Go packages) to run the action proxy of a runtime
// in a container of its own.
//
// Every sandbox is a runc container whose root filesystem is the runtime's
// rootfs directory, mounted read-only and shared by all sandboxes of that
// kind, so a create writes only a small config.json: no image layers, no
// copy. The container has its own pid, network, ipc, uts and mount
// namespaces; its network namespace holds only loopback. The invoker reaches
// the proxy through a unix socket that the backend bind-mounts at
// /run/stoke/proxy.sock (Endpoint "unix://<host path>"), never through IP,
// which also keeps sandboxes from reaching each other or the host.
//
// The container's stdout and stderr are pipes that this process reads, so
// log lines need no log driver and no files. Pause and resume use runc's
// freezer; memory and process limits use the memory and pids cgroups. What
// works is detected at New from the host's cgroup mounts (v1, hybrid or v2).
//
// Each sandbox's labels live in its bundle directory (stoke.json), which is
// what List reads and what orphan clean-up at New matches on.
package runc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/stokehq/stoke/sdk"
)

// Version is the backend's own version, reported by Info.
const Version = "0.1.0"

// Defaults for Config.
const (
	DefaultStateRoot = "/run/stoke-runc"
	DefaultBundleDir = "/tmp/stoke-runc-bundles"
	DefaultMemoryMB  = 256
	DefaultPidsLimit = 1024
)

// DefaultRuntimes maps the kinds this backend runs by default to their
// directory under bin/runtimes (relative to Config.RootfsBase).
var DefaultRuntimes = map[string]string{
	"nodejs:20": "nodejs20",
	"python:3":  "python3",
	"native":    "native",
}

// Config configures a Backend. The zero value works when the default
// runtimes are built under the current directory.
type Config struct {
	// RootfsDirs maps a kind to its root filesystem directory. Every
	// directory given must exist. Empty means DefaultRuntimes under
	// RootfsBase, keeping only the kinds whose directory exists.
	RootfsDirs map[string]string
	// RootfsBase is the directory holding bin/runtimes/<name>/rootfs.
	// Default ".".
	RootfsBase string
	// Process is the command run in every sandbox. Default ["/bin/proxy"].
	Process []string
	// customProcess is set when Process was given, which then wins over
	// the image's command.
	customProcess bool
	// Env is added to every sandbox's environment ("K=V"), before
	// Spec.Env. A plain rootfs directory carries no image ENV, so runtime
	// variables that an image would set belong here.
	Env []string
	// StateRoot is runc's --root, where it keeps container state.
	StateRoot string
	// BundleDir holds one bundle directory per sandbox: config.json, the
	// labels and the proxy's socket directory.
	BundleDir string
	// Runc is the runc binary. Default "runc" on PATH, else /usr/sbin/runc.
	Runc string
	// Labels are attached to every sandbox this backend creates and say
	// which host owns it: at New, containers in StateRoot and BundleDir
	// whose labels include all of these are removed as orphans of an
	// earlier run. Two hosts sharing StateRoot need different Labels.
	Labels map[string]string
	// KeepOrphans skips the orphan clean-up at New.
	KeepOrphans bool
	// DefaultMemoryMB is used when Spec.MemoryMB is 0. Default 256.
	DefaultMemoryMB int
	// PidsLimit caps processes and threads per sandbox. Default 1024.
	PidsLimit int64
	// Logger gets the backend's own diagnostics; nil discards them.
	Logger *slog.Logger
}

// Backend runs sandboxes as runc containers. It implements sdk.Backend;
// every method is safe for concurrent use.
type Backend struct {
	cfg  Config
	log  *slog.Logger
	cg   cgroups
	kind map[string]string // kind → absolute rootfs dir

	// Ids are "stoke-<tag>-<n>": tag is random per Backend, n counts up,
	// so Destroy can tell "destroyed earlier" from "never existed" without
	// remembering every id.
	tag  string
	next atomic.Uint64

	mu        sync.Mutex
	sandboxes map[string]*sandbox
}

var _ sdk.Backend = (*Backend)(nil)

// New checks the runc binary and the cgroup setup, prepares StateRoot and
// BundleDir and, unless KeepOrphans, removes the sandboxes an earlier run
// with the same Labels left behind.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("runc: %w", err)
	}
	kinds, err := cfg.kinds()
	if err != nil {
		return nil, fmt.Errorf("runc: %w", err)
	}
	for _, dir := range []string{cfg.StateRoot, cfg.BundleDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("runc: %w", err)
		}
	}
	cg, err := detectCgroups()
	if err != nil {
		return nil, fmt.Errorf("runc: %w", err)
	}
	var tag [4]byte
	_, _ = rand.Read(tag[:])
	b := &Backend{
		cfg:       cfg,
		log:       cfg.Logger,
		cg:        cg,
		kind:      kinds,
		tag:       hex.EncodeToString(tag[:]),
		sandboxes: make(map[string]*sandbox),
	}
	if !cfg.KeepOrphans {
		n, err := b.CleanOrphans(ctx)
		if err != nil {
			return nil, fmt.Errorf("runc: %w", err)
		}
		if n > 0 {
			b.log.Info("removed orphaned sandboxes", "count", n)
		}
	}
	return b, nil
}

func (c *Config) fill() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.RootfsBase == "" {
		c.RootfsBase = "."
	}
	if len(c.Process) == 0 {
		c.Process = []string{"/bin/proxy"}
	} else {
		c.customProcess = true
	}
	if c.StateRoot == "" {
		c.StateRoot = DefaultStateRoot
	}
	if c.BundleDir == "" {
		c.BundleDir = DefaultBundleDir
	}
	if c.DefaultMemoryMB <= 0 {
		c.DefaultMemoryMB = DefaultMemoryMB
	}
	if c.PidsLimit <= 0 {
		c.PidsLimit = DefaultPidsLimit
	}
	var err error
	if c.StateRoot, err = filepath.Abs(c.StateRoot); err != nil {
		return err
	}
	if c.BundleDir, err = filepath.Abs(c.BundleDir); err != nil {
		return err
	}
	// A unix socket path has room for 107 bytes; the socket lives at
	// <BundleDir>/<id>/run/proxy.sock with an id of up to ~27 bytes.
	if n := len(c.BundleDir) + len("/stoke-01234567-18446744073709551615/run/proxy.sock"); n > 107 {
		return fmt.Errorf("bundle dir %q is too long for unix socket paths inside it", c.BundleDir)
	}
	if c.Runc == "" {
		c.Runc = "runc"
		if _, err := exec.LookPath(c.Runc); err != nil {
			c.Runc = "/usr/sbin/runc"
		}
	}
	if _, err := exec.LookPath(c.Runc); err != nil {
		return fmt.Errorf("runc binary: %w", err)
	}
	return nil
}

// kinds resolves the rootfs directory of every kind.
func (c *Config) kinds() (map[string]string, error) {
	out := make(map[string]string)
	if len(c.RootfsDirs) > 0 {
		for kind, dir := range c.RootfsDirs {
			if kind == "" {
				return nil, errors.New("rootfs dirs: empty kind")
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return nil, err
			}
			if st, err := os.Stat(abs); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("rootfs for %q: %s is not a directory", kind, abs)
			}
			out[kind] = abs
		}
		return out, nil
	}
	for kind, name := range DefaultRuntimes {
		abs, err := filepath.Abs(filepath.Join(c.RootfsBase, "bin", "runtimes", name, "rootfs"))
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			c.Logger.Warn("runtime rootfs missing, kind disabled", "kind", kind, "dir", abs)
			continue
		}
		out[kind] = abs
	}
	return out, nil
}

// Info reports the kinds with a rootfs and what the cgroups allow.
func (b *Backend) Info(context.Context) (*sdk.Info, error) {
	kinds := make([]string, 0, len(b.kind))
	for k := range b.kind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return &sdk.Info{
		Name:       "runc",
		Version:    Version,
		APIVersion: sdk.APIVersion,
		Kinds:      kinds,
		Capabilities: sdk.Capabilities{
			Pause:       b.cg.freezer,
			MemoryLimit: b.cg.memory,
		},
	}, nil
}

// Close destroys every sandbox this Backend created and still holds.
func (b *Backend) Close(ctx context.Context) error {
	b.mu.Lock()
	ids := make([]string, 0, len(b.sandboxes))
	for id := range b.sandboxes {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := b.Destroy(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
