package runc

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// Pause freezes every process of a sandbox (runc pause: the freezer
// cgroup). Connections stay open; calls hang until Resume.
func (b *Backend) Pause(ctx context.Context, id string) error {
	return b.freeze(ctx, "pause", id)
}

// Resume thaws a paused sandbox.
func (b *Backend) Resume(ctx context.Context, id string) error {
	return b.freeze(ctx, "resume", id)
}

func (b *Backend) freeze(ctx context.Context, op, id string) error {
	if !b.cg.freezer {
		return fmt.Errorf("%s %s: %w: no freezer cgroup", op, id, sdk.ErrUnsupported)
	}
	if !b.known(id) {
		return fmt.Errorf("%s %s: %w", op, id, sdk.ErrNotFound)
	}
	if _, err := b.runc(ctx, op, id); err != nil {
		if notExist(err) {
			return fmt.Errorf("%s %s: %w", op, id, sdk.ErrNotFound)
		}
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	b.mu.Lock()
	if s := b.sandboxes[id]; s != nil {
		s.paused = op == "pause"
	}
	b.mu.Unlock()
	return nil
}

// known reports whether id is a live sandbox of ours or of an earlier run.
func (b *Backend) known(id string) bool {
	b.mu.Lock()
	_, ok := b.sandboxes[id]
	b.mu.Unlock()
	if ok {
		return true
	}
	if b.made(id) || !validID(id) {
		return false // ours and destroyed, or not an id at all
	}
	_, err := os.Stat(b.bundleOf(id).record())
	return err == nil
}

// Destroy kills and deletes the container and removes its bundle and
// socket directory. A sandbox destroyed earlier is not an error; an id this
// backend never saw wraps sdk.ErrNotFound. Sandboxes of an earlier run
// (found by List) can be destroyed too.
func (b *Backend) Destroy(ctx context.Context, id string) error {
	b.mu.Lock()
	s := b.sandboxes[id]
	delete(b.sandboxes, id)
	b.mu.Unlock()
	if s == nil {
		if b.made(id) {
			return nil
		}
		if !validID(id) {
			return fmt.Errorf("destroy %s: %w", id, sdk.ErrNotFound)
		}
		dir := b.bundleOf(id).dir
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("destroy %s: %w", id, sdk.ErrNotFound)
		}
		return b.remove(ctx, id, dir)
	}
	if !s.paused {
		b.kill(ctx, s)
	}
	err := b.remove(ctx, id, s.bundle.dir)
	// The pipes reach EOF once the last process is gone; give the readers
	// a moment to hand out what is left, then end the streams regardless.
	select {
	case <-s.logs.done:
	case <-time.After(time.Second):
		s.logs.close()
	}
	return err
}

// kill sends SIGKILL and waits for the sandbox's pipes to close, which
// happens when its last process is gone (killing a pid namespace's init
// kills the rest). runc delete --force alone would do it, but it sleeps
// 100 ms before its first check; after this, delete finds a stopped
// container and returns at once. A paused sandbox cannot die until
// thawed, so Destroy leaves those to delete --force.
func (b *Backend) kill(ctx context.Context, s *sandbox) {
	if _, err := b.runc(ctx, "kill", s.rec.ID, "KILL"); err != nil {
		return
	}
	select {
	case <-s.logs.done:
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
}

// remove deletes a container (killing it, paused or not) and its bundle.
// A container runc does not know is fine: it may never have started.
func (b *Backend) remove(ctx context.Context, id, dir string) error {
	if _, err := b.runc(ctx, "delete", "--force", id); err != nil && !notExist(err) {
		return fmt.Errorf("destroy %s: %w", id, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("destroy %s: %w", id, err)
	}
	return nil
}

// validID keeps ids from naming paths outside BundleDir.
func validID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}
