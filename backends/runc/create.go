package runc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// Create writes a bundle, starts the container with "runc run -d" (one
// runc process instead of create then start) and returns once the proxy
// accepts connections on its socket. Spec.Image is ignored: a kind's
// rootfs is configured, not pulled. Spec.Network is ignored too: every
// sandbox has a network namespace of its own with loopback only.
func (b *Backend) Create(ctx context.Context, spec *sdk.Spec) (*sdk.Sandbox, error) {
	if spec == nil {
		return nil, fmt.Errorf("create: %w: no spec", sdk.ErrInvalid)
	}
	rootfs, ok := b.kind[spec.Kind]
	if !ok {
		return nil, fmt.Errorf("create: %w: kind %q", sdk.ErrUnsupported, spec.Kind)
	}
	mem := spec.MemoryMB
	switch {
	case mem == 0:
		mem = b.cfg.DefaultMemoryMB
	case mem < 0 || mem > 1<<20:
		return nil, fmt.Errorf("create: %w: memory %d MiB", sdk.ErrInvalid, mem)
	}
	if err := checkEnv(spec.Env); err != nil {
		return nil, fmt.Errorf("create: %w: %v", sdk.ErrInvalid, err)
	}

	id := "stoke-" + b.tag + "-" + strconv.FormatUint(b.next.Add(1), 10)
	bd := b.bundleOf(id)
	labels := make(map[string]string, len(spec.Labels)+len(b.cfg.Labels))
	for k, v := range spec.Labels {
		labels[k] = v
	}
	for k, v := range b.cfg.Labels {
		labels[k] = v
	}
	rec := &record{
		ID:       id,
		Kind:     spec.Kind,
		MemoryMB: mem,
		Labels:   labels,
		Socket:   bd.socket(),
		Created:  time.Now().UTC(),
	}
	if err := b.writeBundle(b.ociConfig(id, rootfs, mem, spec.Env, bd), rec, bd); err != nil {
		os.RemoveAll(bd.dir)
		return nil, fmt.Errorf("create %s: bundle: %w", id, err)
	}
	s, err := b.start(ctx, rec, bd)
	if err != nil {
		// The ctx may be over; clean-up must still happen.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := b.remove(cctx, id, bd.dir); rerr != nil {
			b.log.Warn("clean-up after failed create", "id", id, "err", rerr)
		}
		if s != nil {
			s.logs.close()
		}
		return nil, fmt.Errorf("create %s: %w", id, err)
	}
	b.mu.Lock()
	b.sandboxes[id] = s
	b.mu.Unlock()
	return rec.sandbox(), nil
}

// start runs the container with pipes for its stdout and stderr and waits
// for its socket. On error the returned sandbox (if any) holds the pipes.
func (b *Backend) start(ctx context.Context, rec *record, bd bundle) (*sandbox, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sdk.ErrResources, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("%w: %v", sdk.ErrResources, err)
	}
	s := &sandbox{rec: rec, bundle: bd}
	s.logs = startLogs(outR, errR, func() bool {
		dir := s.cgroup.Load()
		return dir != nil && b.cg.oomKilled(*dir)
	})

	// Detached without a terminal, runc hands its own stdio to the
	// container, so the container writes straight into our pipes and
	// nothing copies in between. runc's own errors go to --log.
	logFile := bd.dir + "/runc.log"
	cmd := exec.CommandContext(ctx, b.cfg.Runc, "--root", b.cfg.StateRoot, "--log", logFile,
		"run", "--detach", "--bundle", bd.dir, "--pid-file", bd.pidFile(), rec.ID)
	cmd.Stdout = outW
	cmd.Stderr = errW
	err = cmd.Run()
	outW.Close() // the container keeps its own copies
	errW.Close()
	if err != nil {
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		msg, _ := os.ReadFile(logFile)
		return s, fmt.Errorf("%w: runc run: %v: %s", sdk.ErrResources, err, runcMessage(msg))
	}
	if pid, err := readPid(bd.pidFile()); err == nil {
		if dir, err := b.cg.memoryDir(pid); err == nil {
			s.cgroup.Store(&dir)
		}
	}
	if err := waitSocket(ctx, bd.socket(), s.logs); err != nil {
		return s, err
	}
	return s, nil
}

// waitSocket polls until the proxy accepts a connection. Polling a unix
// socket costs a few µs per try, so it polls often: this wait is most of
// a cold start.
func waitSocket(ctx context.Context, path string, logs *hub) error {
	var d net.Dialer
	delay := 200 * time.Microsecond
	for {
		c, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the proxy socket: %w", ctx.Err())
		case <-logs.done:
			msg := strings.Join(logs.tail(), "\n")
			return fmt.Errorf("%w: the proxy exited before listening: %s", sdk.ErrResources, msg)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Millisecond)
	}
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, errors.New("bad pid file")
	}
	return pid, nil
}

// runcMessage pulls the error text out of runc's JSON log, whose last
// line is the fatal one.
func runcMessage(log []byte) string {
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	last := lines[len(lines)-1]
	if i := strings.Index(last, `"msg":"`); i >= 0 {
		last = last[i+len(`"msg":"`):]
		if j := strings.LastIndex(last, `"`); j >= 0 {
			last = last[:j]
		}
	}
	return last
}
