package docker

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/stokehq/stoke/sdk"
)

// maxGone bounds the memory of destroyed ids; past it the record is reset
// and a very late second Destroy reports ErrNotFound.
const maxGone = 1 << 16

// Pause freezes a sandbox's processes (the cgroup freezer). Pausing a
// paused sandbox is not an error.
func (b *Backend) Pause(ctx context.Context, id string) error {
	if err := b.own(ctx, id); err != nil {
		return fmt.Errorf("docker: pause %s: %w", id, err)
	}
	err := b.cli.ContainerPause(ctx, id)
	if err != nil && !strings.Contains(err.Error(), "already paused") {
		return fmt.Errorf("docker: pause %s: %w", id, wrapErr(err))
	}
	return nil
}

// Resume thaws a paused sandbox. Resuming a running sandbox is not an
// error.
func (b *Backend) Resume(ctx context.Context, id string) error {
	if err := b.own(ctx, id); err != nil {
		return fmt.Errorf("docker: resume %s: %w", id, err)
	}
	err := b.cli.ContainerUnpause(ctx, id)
	if err != nil && !strings.Contains(err.Error(), "is not paused") {
		return fmt.Errorf("docker: resume %s: %w", id, wrapErr(err))
	}
	return nil
}

// Destroy force-removes a sandbox's container (with its anonymous volumes)
// and its socket directory. Destroying it again is not an error.
func (b *Backend) Destroy(ctx context.Context, id string) error {
	b.mu.Lock()
	bx, known := b.boxes[id]
	gone := b.gone[id]
	b.mu.Unlock()
	if gone {
		return nil
	}
	dir := ""
	if known {
		dir = bx.dir
	} else {
		// A sandbox from before a restart: only ours may be removed, and
		// its socket directory is in its labels.
		if !validID(id) {
			return fmt.Errorf("docker: destroy %q: %w", id, sdk.ErrNotFound)
		}
		ins, err := b.cli.ContainerInspect(ctx, id)
		if err != nil || ins.ID != id || ins.Config == nil || ins.Config.Labels[labelManaged] != "1" {
			return fmt.Errorf("docker: destroy %s: %w", id, sdk.ErrNotFound)
		}
		dir = ins.Config.Labels[labelSocketDir]
	}
	if err := b.remove(ctx, id, dir); err != nil {
		return fmt.Errorf("docker: destroy: %w", err)
	}
	return nil
}

// remove force-removes a container and its socket dir and forgets it.
func (b *Backend) remove(ctx context.Context, id, dir string) error {
	err := b.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		// Docker reports a removal already under way as a conflict.
		if !(cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress")) {
			return fmt.Errorf("remove %s: %w", id, wrapErr(err))
		}
	}
	if err := b.removeDir(dir); err != nil {
		b.log.Warn("removing socket dir", "dir", dir, "err", err)
	}
	b.mu.Lock()
	delete(b.boxes, id)
	if len(b.gone) >= maxGone {
		b.gone = make(map[string]bool)
	}
	b.gone[id] = true
	b.mu.Unlock()
	return nil
}

// own checks that id names a live container of this backend. Docker takes
// names and id prefixes too; without the check, "a" could pause someone
// else's container.
func (b *Backend) own(ctx context.Context, id string) error {
	if !validID(id) {
		return sdk.ErrNotFound
	}
	b.mu.Lock()
	_, known := b.boxes[id]
	b.mu.Unlock()
	if known {
		return nil
	}
	ins, err := b.cli.ContainerInspect(ctx, id)
	if err != nil {
		return wrapErr(err)
	}
	if ins.ID != id || ins.Config == nil || ins.Config.Labels[labelManaged] != "1" {
		return sdk.ErrNotFound
	}
	return nil
}

// validID reports whether id is a full container id (64 lowercase hex).
func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
