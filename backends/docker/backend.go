// Package docker is the Docker sandbox backend: one container per sandbox,
// driven through the Docker Engine API (never the docker CLI), running an
// OpenWhisk-style action proxy that serves /init and /run.
//
// How the invoker reaches the proxy depends on the image:
//
//   - Stoke runtime images carry the label org.stoke.proxy-socket. Each
//     sandbox gets its own host directory under Config.SocketDir,
//     bind-mounted at /run/stoke, and the proxy listens on
//     /run/stoke/proxy.sock as well as on 8080 (STOKE_PROXY_SOCKET). The
//     endpoint is "unix://<dir>/proxy.sock": no TCP, no docker-proxy, and
//     the sandbox needs no network to be reached.
//   - Any other image (an OpenWhisk runtime or blackbox image listening only
//     on 8080) gets container port 8080 published on 127.0.0.1 with a
//     random host port; the endpoint is "http://127.0.0.1:<port>". The
//     invoker never dials the container's bridge address (172.x), which
//     this machine flags as traffic to a private range.
//
// Containers run with the memory limit of the spec (swap equal, so no
// swap), a pids limit, every capability dropped, no-new-privileges and
// nofile 1024, like OpenWhisk's `docker run` (reference/openwhisk.md §3.5)
// but stricter.
//
// Memory exhaustion: when a sandbox's container dies OOM-killed, its log
// stream ends with one extra stderr line, exactly OOMMessage, before
// io.EOF. The invoker reports it as the activation's error (OpenWhisk's
// wording).
//
// Orphans: every container carries the label stoke.docker=1 plus
// Config.Labels (stoke.host=<id>). Cleanup removes the containers matching
// them; New calls it when Config.CleanupOrphans is set, so a host that
// crashed and restarts with the same host id starts clean.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/stokehq/stoke/sdk"
)

// Version is the backend's own version, reported by Info.
const Version = "0.1.0"

// Name is the backend name reported by Info.
const Name = "docker"

// OOMMessage is the last stderr line of a log stream whose container was
// killed for exhausting its memory, and the activation error OpenWhisk
// reports in that case.
const OOMMessage = "The action exhausted its memory and was aborted."

// SocketLabel is the image label that marks a Stoke proxy able to listen
// on a unix socket named by $STOKE_PROXY_SOCKET.
const SocketLabel = "org.stoke.proxy-socket"

// Defaults for Config.
const (
	DefaultNetwork   = "bridge"
	DefaultSocketDir = "/tmp/stoke-docker"
	DefaultPidsLimit = 1024
	DefaultMemoryMB  = 256
)

// DefaultImages maps the kinds Stoke ships to its runtime images.
func DefaultImages() map[string]string {
	return map[string]string{
		"nodejs:20": "stoke/runtime-nodejs20:latest",
		"python:3":  "stoke/runtime-python3:latest",
		"native":    "stoke/runtime-native:latest",
	}
}

// Config configures a Backend. The zero value works.
type Config struct {
	// Images maps a runtime kind to its image. Default DefaultImages().
	Images map[string]string
	// Network is the docker network sandboxes join unless the spec names
	// one. Default "bridge".
	Network string
	// SocketDir holds one subdirectory per socket-mode sandbox. It is made
	// 0700: only the host's user (and the containers, through their bind
	// mount) can reach the sockets. Default /tmp/stoke-docker.
	SocketDir string
	// PidsLimit caps the processes and threads of one sandbox. Default 1024.
	PidsLimit int64
	// Labels are put on every container and identify this host's
	// containers, for example {"stoke.host": "invoker0"}. Cleanup removes
	// the containers that carry all of them.
	Labels map[string]string
	// CleanupOrphans makes New remove every container carrying Labels (left
	// by an earlier run of this host). Ignored when Labels is empty, so a
	// host never removes another host's sandboxes.
	CleanupOrphans bool
	// Logger gets the backend's own diagnostics; nil discards them.
	Logger *slog.Logger
}

// Backend runs sandboxes as docker containers. It implements sdk.Backend;
// every method is safe for concurrent use.
type Backend struct {
	cfg Config
	log *slog.Logger
	cli *client.Client

	tag  string // random per-backend part of container names
	next atomic.Uint64

	images sync.Map // image ref -> *imageInfo, positive results only

	mu    sync.Mutex
	boxes map[string]*box // by container id
	gone  map[string]bool // ids destroyed by this backend, so a second Destroy is fine
}

// box is what the backend remembers of a live sandbox.
type box struct {
	name string
	dir  string // socket directory on the host; "" in port mode
}

var _ sdk.Backend = (*Backend)(nil)

// New connects to the docker daemon named by the environment (DOCKER_HOST
// and friends, default the local socket), negotiating the API version, and
// checks that it answers.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Images == nil {
		cfg.Images = DefaultImages()
	}
	if cfg.Network == "" {
		cfg.Network = DefaultNetwork
	}
	if cfg.SocketDir == "" {
		cfg.SocketDir = DefaultSocketDir
	}
	if cfg.PidsLimit <= 0 {
		cfg.PidsLimit = DefaultPidsLimit
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir, err := filepath.Abs(cfg.SocketDir) // docker binds need absolute paths
	if err != nil {
		return nil, fmt.Errorf("docker: socket dir: %w", err)
	}
	cfg.SocketDir = dir
	if len(cfg.SocketDir) > maxSocketDir {
		return nil, fmt.Errorf("docker: %w: socket dir %q is longer than %d bytes: the socket paths under it would not fit a unix address", sdk.ErrInvalid, cfg.SocketDir, maxSocketDir)
	}
	if err := os.MkdirAll(cfg.SocketDir, 0o700); err != nil {
		return nil, fmt.Errorf("docker: socket dir: %w", err)
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: daemon unreachable: %w", err)
	}
	var tag [3]byte
	_, _ = rand.Read(tag[:])
	b := &Backend{
		cfg:   cfg,
		log:   lg,
		cli:   cli,
		tag:   hex.EncodeToString(tag[:]),
		boxes: make(map[string]*box),
		gone:  make(map[string]bool),
	}
	if cfg.CleanupOrphans && len(cfg.Labels) > 0 {
		n, err := b.Cleanup(ctx, cfg.Labels)
		if err != nil {
			cli.Close()
			return nil, fmt.Errorf("docker: orphan clean-up: %w", err)
		}
		if n > 0 {
			lg.Info("removed orphan sandboxes", "count", n, "labels", cfg.Labels)
		}
	}
	return b, nil
}

// Close releases the connection to the daemon. It leaves sandboxes running:
// the host destroys them, or a later Cleanup does.
func (b *Backend) Close() error {
	return b.cli.Close()
}

// Info reports the kinds whose images are present on the daemon now; a
// kind whose image appears later is still created on demand.
func (b *Backend) Info(ctx context.Context) (*sdk.Info, error) {
	var kinds []string
	for kind, img := range b.cfg.Images {
		if _, err := b.image(ctx, img); err == nil {
			kinds = append(kinds, kind)
		} else if !cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("docker: info: %w", wrapErr(err))
		}
	}
	sort.Strings(kinds)
	return &sdk.Info{
		Name:       Name,
		Version:    Version,
		APIVersion: sdk.APIVersion,
		Kinds:      kinds,
		Capabilities: sdk.Capabilities{
			Pause:       true,
			MemoryLimit: true,
			Network:     true,
		},
	}, nil
}
