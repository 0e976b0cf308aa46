package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// Kind is the one runtime kind this backend runs: native executables under
// the proxy's native mode (OpenWhisk's docker skeleton semantics).
const Kind = "native"

// backend implements sdk.Backend with one proxy process per sandbox.
type backend struct {
	proxy      string // absolute path of the action proxy
	dir        string // this run's sandbox directories
	namespaces bool

	mu    sync.Mutex
	boxes map[string]*box
	gone  map[string]bool // destroyed ids: destroying again is not an error
}

// box is one sandbox: the proxy process, its directory and its logs.
type box struct {
	sb   sdk.Sandbox
	cmd  *exec.Cmd
	dir  string
	logs *hub
	done chan struct{} // closed when the process has exited
}

func (b *backend) Info(ctx context.Context) (*sdk.Info, error) {
	return &sdk.Info{
		Name:       "process",
		Version:    "0.1.0",
		APIVersion: sdk.APIVersion,
		Kinds:      []string{Kind},
		// Pause is SIGSTOP/SIGCONT of the process group. No memory limit:
		// that would need cgroups, which this example leaves out.
		Capabilities: sdk.Capabilities{Pause: true},
	}, nil
}

func (b *backend) Create(ctx context.Context, spec *sdk.Spec) (*sdk.Sandbox, error) {
	if spec == nil {
		return nil, fmt.Errorf("process: create: %w: no spec", sdk.ErrInvalid)
	}
	if spec.Kind != Kind {
		return nil, fmt.Errorf("process: create: kind %q: %w (only %q)", spec.Kind, sdk.ErrUnsupported, Kind)
	}
	// spec.Image is ignored: the host names the container image of the
	// kind, and this backend runs the host's own proxy instead.
	var tag [8]byte
	_, _ = rand.Read(tag[:])
	id := hex.EncodeToString(tag[:])
	dir := filepath.Join(b.dir, id)
	if err := os.MkdirAll(filepath.Join(dir, "action"), 0o700); err != nil {
		return nil, fmt.Errorf("process: create: %w", err)
	}
	socket := filepath.Join(dir, "proxy.sock")

	// The proxy serves the unix socket only (-addr=): without a network
	// namespace, sandboxes would otherwise fight over :8080.
	cmd := exec.Command(b.proxy, "-addr=")
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + dir,
		"STOKE_PROXY_MODE=native",
		"STOKE_PROXY_SOCKET=" + socket,
		"STOKE_ACTION_DIR=" + filepath.Join(dir, "action"),
	}
	for k, v := range spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // Destroy and Pause signal the whole group
		Pdeathsig: syscall.SIGKILL, // sandboxes die with the plugin
	}
	if b.namespaces {
		// A unix socket on the file system stays reachable from the host
		// across a network namespace; nothing else does.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS |
			syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
	}
	logs, err := startLogs(cmd)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("process: create: %w", err)
	}
	if err := cmd.Start(); err != nil {
		logs.close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("process: create: start %s: %w", b.proxy, err)
	}
	x := &box{cmd: cmd, dir: dir, logs: logs, done: make(chan struct{})}
	go func() {
		cmd.Wait() // also waits for the log pipes to drain
		logs.close()
		close(x.done)
	}()
	x.sb = sdk.Sandbox{ID: id, Endpoint: "unix://" + socket, Kind: Kind, MemoryMB: spec.MemoryMB, Labels: copyLabels(spec.Labels)}
	if err := ready(ctx, socket, x.done); err != nil {
		x.kill()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("process: create: %w", err)
	}
	b.mu.Lock()
	b.boxes[id] = x
	b.mu.Unlock()
	sb := x.sb
	return &sb, nil
}

// ready waits until the proxy accepts connections on its socket.
func ready(ctx context.Context, socket string, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return errors.New("the proxy exited before it listened (see its logs)")
		case <-ctx.Done():
			return fmt.Errorf("the proxy did not listen: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// kill ends the process group and waits for it.
func (x *box) kill() {
	_ = syscall.Kill(-x.cmd.Process.Pid, syscall.SIGKILL)
	<-x.done
}

func (b *backend) get(id string) (*box, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if x, ok := b.boxes[id]; ok {
		return x, nil
	}
	return nil, fmt.Errorf("process: sandbox %q: %w", id, sdk.ErrNotFound)
}

func (b *backend) signal(id string, sig syscall.Signal) error {
	x, err := b.get(id)
	if err != nil {
		return err
	}
	if err := syscall.Kill(-x.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("process: sandbox %s: %v: %w", id, sig, err)
	}
	return nil
}

func (b *backend) Pause(ctx context.Context, id string) error {
	return b.signal(id, syscall.SIGSTOP)
}

func (b *backend) Resume(ctx context.Context, id string) error {
	return b.signal(id, syscall.SIGCONT)
}

func (b *backend) Destroy(ctx context.Context, id string) error {
	b.mu.Lock()
	x, ok := b.boxes[id]
	delete(b.boxes, id)
	gone := b.gone[id]
	if ok {
		b.gone[id] = true
	}
	b.mu.Unlock()
	if !ok {
		if gone {
			return nil
		}
		return fmt.Errorf("process: sandbox %q: %w", id, sdk.ErrNotFound)
	}
	x.kill()
	if err := os.RemoveAll(x.dir); err != nil {
		return fmt.Errorf("process: destroy %s: %w", id, err)
	}
	return nil
}

func (b *backend) Logs(ctx context.Context, id string) (sdk.LogStream, error) {
	x, err := b.get(id)
	if err != nil {
		return nil, err
	}
	return x.logs.subscribe(), nil
}

func (b *backend) List(ctx context.Context, labels map[string]string) ([]*sdk.Sandbox, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []*sdk.Sandbox{}
	for _, x := range b.boxes {
		if matches(x.sb.Labels, labels) {
			sb := x.sb
			sb.Labels = copyLabels(sb.Labels)
			out = append(out, &sb)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func copyLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
