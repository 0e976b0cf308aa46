package runc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// record is what a bundle directory says about its sandbox (stoke.json).
// It is also the opaque sdk.Sandbox.State, so a restarted host can destroy
// the sandbox with nothing but its id.
type record struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	MemoryMB int               `json:"memoryMB"`
	Labels   map[string]string `json:"labels,omitempty"`
	Socket   string            `json:"socket"`
	Created  time.Time         `json:"created"`
}

func (r *record) sandbox() *sdk.Sandbox {
	state, _ := json.Marshal(r)
	return &sdk.Sandbox{
		ID:       r.ID,
		Endpoint: "unix://" + r.Socket,
		Kind:     r.Kind,
		MemoryMB: r.MemoryMB,
		Labels:   r.Labels,
		State:    state,
	}
}

// sandbox is a sandbox this process created.
type sandbox struct {
	rec    *record
	bundle bundle
	logs   *hub
	cgroup atomic.Pointer[string] // memory cgroup dir, for the OOM check
	paused bool                   // guarded by Backend.mu
}

func (b *Backend) bundleOf(id string) bundle {
	return bundle{dir: filepath.Join(b.cfg.BundleDir, id)}
}

func readRecord(path string) (*record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// List returns the sandboxes in BundleDir whose labels include labels,
// including those of an earlier run, so that a host can find leftovers.
func (b *Backend) List(ctx context.Context, labels map[string]string) ([]*sdk.Sandbox, error) {
	recs, err := b.records()
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var out []*sdk.Sandbox
	for _, r := range recs {
		// Only this host's: the bundle dir may be shared with other hosts
		// on the machine, whose sandboxes are none of our business.
		if hasLabels(r.Labels, labels) && hasLabels(r.Labels, b.cfg.Labels) {
			out = append(out, r.sandbox())
		}
	}
	return out, nil
}

// records reads every bundle's record; bundles being written or removed
// concurrently are skipped.
func (b *Backend) records() ([]*record, error) {
	ents, err := os.ReadDir(b.cfg.BundleDir)
	if err != nil {
		return nil, err
	}
	var out []*record
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		r, err := readRecord(filepath.Join(b.cfg.BundleDir, e.Name(), "stoke.json"))
		if err != nil || r.ID != e.Name() {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// CleanOrphans removes the containers and bundles that carry all of
// Config.Labels but that this Backend did not create: those of an earlier
// run that crashed. New calls it; it returns how many it removed.
func (b *Backend) CleanOrphans(ctx context.Context) (int, error) {
	owned := func(rec *record) bool {
		if !hasLabels(rec.Labels, b.cfg.Labels) {
			return false
		}
		b.mu.Lock()
		_, mine := b.sandboxes[rec.ID]
		b.mu.Unlock()
		return !mine && !b.made(rec.ID)
	}
	orphans := make(map[string]string) // id → bundle dir
	cs, err := b.list(ctx)
	if err != nil {
		return 0, fmt.Errorf("orphans: %w", err)
	}
	for _, c := range cs {
		// A container whose bundle has no record is not ours: leave it.
		rec, err := readRecord(filepath.Join(c.Bundle, "stoke.json"))
		if err == nil && rec.ID == c.ID && owned(rec) {
			orphans[c.ID] = c.Bundle
		}
	}
	recs, err := b.records()
	if err != nil {
		return 0, fmt.Errorf("orphans: %w", err)
	}
	for _, r := range recs {
		if owned(r) {
			orphans[r.ID] = b.bundleOf(r.ID).dir
		}
	}
	var errs []error
	for id, dir := range orphans {
		if err := b.remove(ctx, id, dir); err != nil {
			errs = append(errs, err)
		}
	}
	return len(orphans) - len(errs), errors.Join(errs...)
}

// made reports whether id is one this Backend handed out.
func (b *Backend) made(id string) bool {
	rest, ok := strings.CutPrefix(id, "stoke-"+b.tag+"-")
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return err == nil && n > 0 && n <= b.next.Load()
}
