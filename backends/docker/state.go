package docker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/stokehq/stoke/sdk"
)

// Labels the backend puts on its containers, so that List and Cleanup can
// rebuild a sandbox from the container alone, after a crash.
const (
	labelManaged   = "stoke.docker"            // "1" on every container we create
	labelKind      = "stoke.docker.kind"       // spec.Kind
	labelMemory    = "stoke.docker.memory"     // MiB
	labelSocketDir = "stoke.docker.socket-dir" // host socket directory, socket mode only
)

// labels merges the spec's labels, the configured host labels and ours, in
// rising precedence.
func (b *Backend) labels(spec *sdk.Spec, mem int) map[string]string {
	out := make(map[string]string, len(spec.Labels)+len(b.cfg.Labels)+4)
	for k, v := range spec.Labels {
		out[k] = v
	}
	for k, v := range b.cfg.Labels {
		out[k] = v
	}
	out[labelManaged] = "1"
	out[labelKind] = spec.Kind
	out[labelMemory] = strconv.Itoa(mem)
	return out
}

// publicLabels drops the backend's own bookkeeping labels.
func publicLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		if k != labelManaged && !strings.HasPrefix(k, labelManaged+".") {
			out[k] = v
		}
	}
	return out
}

// List returns this backend's sandboxes (running, paused or dead) whose
// labels include all of labels.
func (b *Backend) List(ctx context.Context, labels map[string]string) ([]*sdk.Sandbox, error) {
	cs, err := b.list(ctx, labels)
	if err != nil {
		return nil, fmt.Errorf("docker: list: %w", err)
	}
	out := make([]*sdk.Sandbox, 0, len(cs))
	for _, c := range cs {
		mem, _ := strconv.Atoi(c.Labels[labelMemory])
		sb := &sdk.Sandbox{
			ID:       c.ID,
			Kind:     c.Labels[labelKind],
			MemoryMB: mem,
			Labels:   publicLabels(c.Labels),
		}
		if dir := c.Labels[labelSocketDir]; dir != "" {
			sb.Endpoint = "unix://" + filepath.Join(dir, socketFile)
		} else {
			for _, p := range c.Ports {
				if p.PrivatePort == 8080 && p.IP == "127.0.0.1" && p.PublicPort != 0 {
					sb.Endpoint = "http://127.0.0.1:" + strconv.Itoa(int(p.PublicPort))
				}
			}
		}
		out = append(out, sb)
	}
	return out, nil
}

func (b *Backend) list(ctx context.Context, labels map[string]string) ([]container.Summary, error) {
	f := filters.NewArgs(filters.Arg("label", labelManaged+"=1"))
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	// Only this host's: other Stoke hosts may share the daemon, and their
	// sandboxes are none of our business.
	for k, v := range b.cfg.Labels {
		f.Add("label", k+"="+v)
	}
	cs, err := b.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	return cs, wrapErr(err)
}

// Cleanup removes every container of this backend whose labels include all
// of labels, and their socket directories, and returns how many it
// removed. Called with Config.Labels it removes what an earlier run of
// this host left behind; New does so when Config.CleanupOrphans is set.
// An empty labels removes every Stoke docker sandbox on the daemon.
func (b *Backend) Cleanup(ctx context.Context, labels map[string]string) (int, error) {
	cs, err := b.list(ctx, labels)
	if err != nil {
		return 0, fmt.Errorf("docker: cleanup: %w", err)
	}
	n := 0
	for _, c := range cs {
		if err := b.remove(ctx, c.ID, c.Labels[labelSocketDir]); err != nil {
			return n, fmt.Errorf("docker: cleanup: %w", err)
		}
		n++
	}
	return n, nil
}

// removeDir removes a socket directory, but only one under SocketDir: the
// path comes from a container label, which anyone with docker access could
// have written.
func (b *Backend) removeDir(dir string) error {
	if dir == "" {
		return nil
	}
	rel, err := filepath.Rel(b.cfg.SocketDir, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.ContainsRune(rel, filepath.Separator) {
		return nil
	}
	return os.RemoveAll(dir)
}
