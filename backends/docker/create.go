package docker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"

	"github.com/stokehq/stoke/sdk"
)

// Inside the container.
const (
	socketMount = "/run/stoke"
	socketFile  = "proxy.sock"
	proxyPort   = nat.Port("8080/tcp")
)

// minMemoryMB is the smallest limit docker accepts (6 MiB).
const minMemoryMB = 6

// maxHint bounds the part of a container name taken from Spec.Name.
const maxHint = 64

// maxSocketDir keeps "<SocketDir>/<short>/proxy.sock" within the 107
// bytes a unix socket path may have: short is at most 6+20 bytes.
const maxSocketDir = 107 - 1 - 26 - 1 - len(socketFile)

// imageInfo is what Create needs to know of an image.
type imageInfo struct {
	socket  bool   // the proxy can listen on $STOKE_PROXY_SOCKET
	workDir string // where the proxy unpacks the action
}

// image inspects ref once; later calls hit the cache. Only hits are cached
// so that an image built later is found.
func (b *Backend) image(ctx context.Context, ref string) (*imageInfo, error) {
	if v, ok := b.images.Load(ref); ok {
		return v.(*imageInfo), nil
	}
	ins, err := b.cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, err
	}
	info := &imageInfo{}
	if ins.Config != nil {
		v, ok := ins.Config.Labels[SocketLabel]
		info.socket = ok && v != "false"
		info.workDir = ins.Config.WorkingDir
	}
	b.images.Store(ref, info)
	return info, nil
}

// Create creates and starts a container and returns once its proxy can be
// reached. On any failure the container is removed.
func (b *Backend) Create(ctx context.Context, spec *sdk.Spec) (*sdk.Sandbox, error) {
	if spec == nil {
		return nil, fmt.Errorf("docker: create: %w: no spec", sdk.ErrInvalid)
	}
	ref := spec.Image
	if ref == "" {
		ref = b.cfg.Images[spec.Kind]
		if ref == "" {
			return nil, fmt.Errorf("docker: create: kind %q: %w", spec.Kind, sdk.ErrUnsupported)
		}
	}
	mem := spec.MemoryMB
	if mem == 0 {
		mem = DefaultMemoryMB
	}
	if mem < minMemoryMB {
		return nil, fmt.Errorf("docker: create: %w: memory %d MiB is below docker's minimum of %d MiB", sdk.ErrInvalid, spec.MemoryMB, minMemoryMB)
	}
	env, err := envList(spec.Env)
	if err != nil {
		return nil, fmt.Errorf("docker: create: %w", err)
	}
	img, err := b.image(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return nil, &pullError{image: ref}
	}
	if err != nil {
		return nil, fmt.Errorf("docker: create: image %s: %w", ref, wrapErr(err))
	}
	network := spec.Network
	if network == "" {
		network = b.cfg.Network
	}
	if !img.socket && network == "none" {
		return nil, fmt.Errorf("docker: create: %w: image %s serves only on port 8080, which network \"none\" cannot reach", sdk.ErrInvalid, ref)
	}

	name, short := b.containerName(spec.Name)
	labels := b.labels(spec, mem)
	pids := b.cfg.PidsLimit
	cfg := &container.Config{
		Image:  ref,
		Env:    env,
		Labels: labels,
	}
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(network),
		// Stricter than OpenWhisk (which drops only NET_RAW and NET_ADMIN):
		// the proxies bind 8080 and need no privilege.
		CapDrop:     []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges"},
		Resources: container.Resources{
			Memory:     int64(mem) << 20,
			MemorySwap: int64(mem) << 20, // equal: no swap
			PidsLimit:  &pids,
			Ulimits:    []*units.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1024}},
		},
		// Bounded, so a chatty action cannot fill the disk.
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "2"}},
	}
	var dir string
	if img.socket {
		dir = filepath.Join(b.cfg.SocketDir, short)
		// 0777 inside a 0700 parent: the container's user, whoever it is,
		// can create the socket; nobody else on the host can reach it.
		if err := os.Mkdir(dir, 0o777); err != nil {
			return nil, fmt.Errorf("docker: create: socket dir: %w", err)
		}
		if err := os.Chmod(dir, 0o777); err != nil { // past the umask
			os.RemoveAll(dir)
			return nil, fmt.Errorf("docker: create: socket dir: %w", err)
		}
		hc.Binds = []string{dir + ":" + socketMount}
		// Stoke's proxy unpacks the action into its working directory: a
		// tmpfs there spares every file the overlay filesystem's cost
		// (~0.5 ms a file here), and counts against the memory limit.
		if w := img.workDir; w != "" && w != "/" {
			hc.Tmpfs = map[string]string{w: "rw,exec,nosuid,nodev,mode=755"}
		}
		cfg.Env = append(cfg.Env, "STOKE_PROXY_SOCKET="+socketMount+"/"+socketFile)
		labels[labelSocketDir] = dir
	} else {
		cfg.ExposedPorts = nat.PortSet{proxyPort: {}}
		hc.PortBindings = nat.PortMap{proxyPort: {{HostIP: "127.0.0.1", HostPort: ""}}}
	}

	created, err := b.cli.ContainerCreate(ctx, cfg, hc, nil, nil, name)
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		if cerrdefs.IsNotFound(err) { // the image went away since we looked
			b.images.Delete(ref)
			return nil, &pullError{image: ref}
		}
		return nil, fmt.Errorf("docker: create %s: %w", name, wrapErr(err))
	}
	id := created.ID
	b.mu.Lock()
	b.boxes[id] = &box{name: name, dir: dir}
	b.mu.Unlock()
	fail := func(err error) (*sdk.Sandbox, error) {
		// The caller's ctx may be what failed; clean-up must still run.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := b.Destroy(cctx, id); derr != nil {
			b.log.Warn("removing failed sandbox", "id", id, "err", derr)
		}
		return nil, err
	}

	if err := b.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		if strings.Contains(err.Error(), "executable file not found") || strings.Contains(err.Error(), "no such file or directory") {
			return fail(&execError{image: ref, cause: err})
		}
		return fail(fmt.Errorf("docker: start %s: %w", name, wrapErr(err)))
	}

	var endpoint string
	if img.socket {
		sock := filepath.Join(dir, socketFile)
		if err := b.waitSocket(ctx, id, sock); err != nil {
			return fail(fmt.Errorf("docker: create %s: %w", name, err))
		}
		endpoint = "unix://" + sock
	} else {
		ins, err := b.cli.ContainerInspect(ctx, id)
		if err != nil {
			return fail(fmt.Errorf("docker: inspect %s: %w", name, wrapErr(err)))
		}
		port := hostPort(ins.NetworkSettings)
		if port == "" {
			return fail(fmt.Errorf("docker: create %s: port 8080 was not published", name))
		}
		endpoint = "http://127.0.0.1:" + port
		if err := b.waitHTTP(ctx, id, "127.0.0.1:"+port); err != nil {
			return fail(fmt.Errorf("docker: create %s: %w", name, err))
		}
	}
	return &sdk.Sandbox{
		ID:       id,
		Endpoint: endpoint,
		Kind:     spec.Kind,
		MemoryMB: mem,
		Labels:   publicLabels(labels),
	}, nil
}

// containerName returns a name unique to this backend, "stoke_<short>"
// or "stoke_<short>_<hint>", valid for docker ([a-zA-Z0-9][a-zA-Z0-9_.-]*),
// and its short part "<backend tag><n>", which names the socket directory.
func (b *Backend) containerName(hint string) (name, short string) {
	var sb strings.Builder
	for _, r := range hint {
		if sb.Len() >= maxHint {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	short = fmt.Sprintf("%s%d", b.tag, b.next.Add(1))
	name = "stoke_" + short
	if sb.Len() > 0 {
		name += "_" + sb.String()
	}
	return name, short
}

// envList renders env sorted, rejecting what docker would misread.
func envList(env map[string]string) ([]string, error) {
	out := make([]string, 0, len(env)+1)
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("%w: environment variable %q", sdk.ErrInvalid, k)
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// hostPort returns the 127.0.0.1 port that 8080 is published on.
func hostPort(ns *container.NetworkSettings) string {
	if ns == nil {
		return ""
	}
	for _, pb := range ns.Ports[proxyPort] {
		if pb.HostIP == "127.0.0.1" && pb.HostPort != "" {
			return pb.HostPort
		}
	}
	return ""
}

// waitSocket waits until the proxy accepts on its socket. The file exists
// from bind(), a moment before listen(), so a connect is the signal.
func (b *Backend) waitSocket(ctx context.Context, id, sock string) error {
	return b.poll(ctx, id, func() bool {
		c, err := net.DialTimeout("unix", sock, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// waitHTTP waits for an HTTP answer on addr. A TCP connect is not enough:
// docker's userland proxy accepts on the host port before the container
// listens, then drops the connection.
func (b *Backend) waitHTTP(ctx context.Context, id, addr string) error {
	hc := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	defer hc.CloseIdleConnections()
	return b.poll(ctx, id, func() bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		if err != nil {
			return false
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true // any status: something answers HTTP
	})
}

// poll calls ready with a short, growing interval until it is true, ctx
// ends or the container stops running (checked every 100ms).
func (b *Backend) poll(ctx context.Context, id string, ready func() bool) error {
	interval := time.Millisecond
	lastCheck := time.Now()
	for {
		if ready() {
			return nil
		}
		if time.Since(lastCheck) > 100*time.Millisecond {
			lastCheck = time.Now()
			ins, err := b.cli.ContainerInspect(ctx, id)
			if err != nil {
				return fmt.Errorf("waiting for the proxy: %w", wrapErr(err))
			}
			if ins.State != nil && !ins.State.Running {
				return fmt.Errorf("%w: container exited during start (status %s, exit code %s)",
					sdk.ErrResources, ins.State.Status, strconv.Itoa(ins.State.ExitCode))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the proxy: %w", ctx.Err())
		case <-time.After(interval):
		}
		if interval < 10*time.Millisecond {
			interval += interval / 2
			if interval == time.Millisecond { // 1ms/2 rounds to 0
				interval = 2 * time.Millisecond
			}
		}
	}
}
