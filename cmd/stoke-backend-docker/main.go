// Command stoke-backend-docker is the Docker backend as a go-plugin
// binary. The host launches it; it is not meant to be run by hand.
//
// It reads its configuration from the environment:
//
//	STOKE_DOCKER_IMAGES      kind=image pairs, comma-separated, replacing the
//	                         defaults (nodejs:20, python:3, native)
//	STOKE_DOCKER_NETWORK     network for sandboxes (default bridge)
//	STOKE_DOCKER_SOCKET_DIR  host directory for proxy sockets (default /tmp/stoke-docker)
//	STOKE_DOCKER_PIDS_LIMIT  processes per sandbox (default 1024)
//	STOKE_DOCKER_LABELS      k=v pairs, comma-separated, put on every
//	                         container (for example stoke.host=invoker0)
//	STOKE_DOCKER_CLEANUP     "true": at start, remove the containers that
//	                         carry STOKE_DOCKER_LABELS (a crashed earlier run)
//
// and the Docker client's own DOCKER_HOST, DOCKER_API_VERSION, ...
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stokehq/stoke/backends/docker"
	"github.com/stokehq/stoke/sdk"
)

func main() {
	cfg, err := config(os.Getenv)
	if err != nil {
		fail(err)
	}
	cfg.Logger = slog.New(defaultHandler{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	b, err := docker.New(ctx, cfg)
	cancel()
	if err != nil {
		fail(err)
	}
	sdk.Serve(b)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "stoke-backend-docker:", err)
	os.Exit(1)
}

func config(getenv func(string) string) (docker.Config, error) {
	cfg := docker.Config{
		Network:   getenv("STOKE_DOCKER_NETWORK"),
		SocketDir: getenv("STOKE_DOCKER_SOCKET_DIR"),
	}
	var err error
	if v := getenv("STOKE_DOCKER_IMAGES"); v != "" {
		if cfg.Images, err = pairs(v); err != nil {
			return cfg, fmt.Errorf("STOKE_DOCKER_IMAGES: %w", err)
		}
	}
	if v := getenv("STOKE_DOCKER_LABELS"); v != "" {
		if cfg.Labels, err = pairs(v); err != nil {
			return cfg, fmt.Errorf("STOKE_DOCKER_LABELS: %w", err)
		}
	}
	if v := getenv("STOKE_DOCKER_PIDS_LIMIT"); v != "" {
		if cfg.PidsLimit, err = strconv.ParseInt(v, 10, 64); err != nil || cfg.PidsLimit <= 0 {
			return cfg, fmt.Errorf("STOKE_DOCKER_PIDS_LIMIT: %q is not a positive number", v)
		}
	}
	if v := getenv("STOKE_DOCKER_CLEANUP"); v != "" {
		if cfg.CleanupOrphans, err = strconv.ParseBool(v); err != nil {
			return cfg, fmt.Errorf("STOKE_DOCKER_CLEANUP: %q is not a boolean", v)
		}
	}
	return cfg, nil
}

// pairs parses "k=v,k2=v2".
func pairs(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not key=value", p)
		}
		out[k] = v
	}
	return out, nil
}

// defaultHandler sends records to slog's default logger as it is at the
// time of the call: sdk.Serve installs one in the host's log format, after
// the backend is made.
type defaultHandler struct{}

func (defaultHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return slog.Default().Handler().Enabled(ctx, l)
}

func (defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	return slog.Default().Handler().Handle(ctx, r)
}

func (h defaultHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return slog.Default().Handler().WithAttrs(as)
}

func (h defaultHandler) WithGroup(name string) slog.Handler {
	return slog.Default().Handler().WithGroup(name)
}
