package plugins

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"sync"

	"github.com/stokehq/stoke/sdk"
)

// Host runs every backend plugin found in a directory.
type Host struct {
	log      *slog.Logger
	plugins  []*Plugin
	backends map[string]sdk.Backend
	once     sync.Once
}

// Load discovers and launches the plugins in dir, keyed by Info.Name. A
// plugin that fails to start, reports the wrong API version or repeats a
// name already loaded is logged and skipped: one broken binary must not
// keep the host down. A missing dir is an empty host; an unreadable one
// is an error.
func Load(ctx context.Context, dir string, opts Options) (*Host, error) {
	opts = opts.withDefaults()
	h := &Host{log: opts.Logger, backends: make(map[string]sdk.Backend)}
	paths, err := Discover(dir)
	if errors.Is(err, fs.ErrNotExist) {
		opts.Logger.Debug("no plugin directory", "dir", dir)
		return h, nil
	}
	if err != nil {
		return nil, err
	}
	for _, path := range paths {
		p, err := Launch(ctx, path, opts)
		if err != nil {
			opts.Logger.Error("skipping backend plugin", "path", path, "err", err)
			continue
		}
		info, _ := p.Info(ctx)
		if _, dup := h.backends[info.Name]; dup {
			opts.Logger.Error("skipping backend plugin: name already loaded", "path", path, "name", info.Name)
			p.Close()
			continue
		}
		opts.Logger.Info("loaded backend plugin", "path", path, "name", info.Name,
			"version", info.Version, "api", info.APIVersion, "kinds", info.Kinds, "pid", p.Pid())
		h.plugins = append(h.plugins, p)
		h.backends[info.Name] = p.Backend()
	}
	return h, nil
}

// Backends returns the loaded backends by name. The map is a copy.
func (h *Host) Backends() map[string]sdk.Backend {
	m := make(map[string]sdk.Backend, len(h.backends))
	for k, v := range h.backends {
		m[k] = v
	}
	return m
}

// Plugins returns the loaded plugins, in discovery order.
func (h *Host) Plugins() []*Plugin { return append([]*Plugin(nil), h.plugins...) }

// Close kills every plugin, in parallel (each kill may wait 2s for a
// graceful exit).
func (h *Host) Close() error {
	h.once.Do(func() {
		var wg sync.WaitGroup
		for _, p := range h.plugins {
			wg.Go(func() { p.Close() })
		}
		wg.Wait()
		h.log.Debug("backend plugins closed", "count", len(h.plugins))
	})
	return nil
}
