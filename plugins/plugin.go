package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/stokehq/stoke/sdk"
)

// Options configure how a plugin is run. The zero value is usable.
type Options struct {
	// Logger receives go-plugin's logs and the plugin's own (stderr JSON
	// lines at their level, stdout lines at info). Default slog.Default().
	Logger *slog.Logger
	// HealthInterval is how often the plugin is pinged. Default 5s.
	HealthInterval time.Duration
	// PingTimeout bounds one ping; go-plugin's Ping has no deadline of its
	// own. Default 2s.
	PingTimeout time.Duration
	// StartTimeout bounds the handshake of one start. Default 30s.
	StartTimeout time.Duration
	// MaxBackoff caps the wait between failed restarts, which starts at
	// 100ms and doubles. Default 30s.
	MaxBackoff time.Duration
	// Env is added to the host's environment for the plugin process.
	Env []string
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 5 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 2 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	return o
}

// killTimeout bounds Kill, which can hang in grpc.ClientConn.Close
// (terraform PR #38940); go-plugin itself waits 2s before a SIGKILL.
const killTimeout = 10 * time.Second

// Plugin is a running backend plugin. It implements sdk.Backend by
// delegating to the current plugin process, which a health loop replaces
// when it dies or stops answering. Calls made while it is down fail at
// once with an error wrapping sdk.ErrResources.
//
// Plugin also has Prepare; use Backend for a value that implements
// sdk.Preparer only when the plugin declares Capabilities.Prepare.
type Plugin struct {
	path string
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	cur    *instance // nil while restarting or after Close
	info   *sdk.Info // from the latest start
	closed bool

	kick chan struct{} // asks the health loop to check now
	stop chan struct{}
	done chan struct{}
}

// instance is one plugin process.
type instance struct {
	client *plugin.Client
	rpc    plugin.ClientProtocol
	b      sdk.Backend // also an sdk.Preparer
	info   *sdk.Info
}

// Launch starts the plugin at path, checks its API version against
// sdk.APIVersion and starts its health loop. ctx bounds the first Info
// call; on any error the process is killed.
func Launch(ctx context.Context, path string, opts Options) (*Plugin, error) {
	opts = opts.withDefaults()
	p := &Plugin{
		path: path,
		opts: opts,
		log:  opts.Logger.With("path", path),
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	inst, err := p.start(ctx)
	if err != nil {
		return nil, err
	}
	p.cur, p.info = inst, inst.info
	go p.watch()
	return p, nil
}

func (p *Plugin) start(ctx context.Context) (*instance, error) {
	cmd := exec.Command(p.path)
	cmd.Env = p.opts.Env // go-plugin appends the host's environment
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Managed:          true, // so plugin.CleanupClients (see Cleanup) reaches it
		StartTimeout:     p.opts.StartTimeout,
		Logger:           newHclog(p.log),
		SyncStdout:       &lineWriter{log: func(l string) { p.log.Info(l, "stream", "stdout") }},
		SyncStderr:       &lineWriter{log: func(l string) { p.log.Info(l, "stream", "stderr") }},
	})
	inst, err := dispense(ctx, client)
	if err != nil {
		kill(client)
		return nil, fmt.Errorf("launch plugin %s: %w", p.path, err)
	}
	return inst, nil
}

func dispense(ctx context.Context, client *plugin.Client) (*instance, error) {
	rpc, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, err
	}
	b, ok := raw.(sdk.Backend)
	if !ok {
		return nil, fmt.Errorf("dispensed %T, not an sdk.Backend", raw)
	}
	info, err := b.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("info: %w", err)
	}
	if err := checkInfo(info); err != nil {
		return nil, err
	}
	return &instance{client: client, rpc: rpc, b: b, info: info}, nil
}

// kill stops a plugin process without hanging the caller for long.
func kill(c *plugin.Client) {
	done := make(chan struct{})
	go func() {
		c.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(killTimeout):
	}
}

// watch is the health loop: it pings the plugin every HealthInterval (or
// when a call saw it fail) and restarts it when the ping fails or the
// process has exited.
func (p *Plugin) watch() {
	defer close(p.done)
	t := time.NewTicker(p.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.kick:
		}
		p.mu.RLock()
		inst := p.cur
		p.mu.RUnlock()
		if inst == nil {
			continue
		}
		err := p.check(inst)
		if err == nil {
			continue
		}
		p.log.Warn("backend plugin unhealthy, restarting", "err", err)
		p.mu.Lock()
		if p.cur == inst {
			p.cur = nil
		}
		p.mu.Unlock()
		kill(inst.client)
		p.restart()
	}
}

func (p *Plugin) check(inst *instance) error {
	if inst.client.Exited() {
		return errors.New("process exited")
	}
	done := make(chan error, 1)
	go func() { done <- inst.rpc.Ping() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		return nil
	case <-time.After(p.opts.PingTimeout):
		return fmt.Errorf("ping: no answer in %v", p.opts.PingTimeout)
	}
}

// restart starts a new process, retrying with exponential backoff until
// it succeeds or the plugin is closed.
func (p *Plugin) restart() {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.StartTimeout)
		inst, err := p.start(ctx)
		cancel()
		if err == nil {
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				kill(inst.client)
				return
			}
			p.cur, p.info = inst, inst.info
			p.mu.Unlock()
			p.log.Info("backend plugin restarted", "attempt", attempt, "pid", pid(inst.client))
			return
		}
		p.log.Error("backend plugin restart failed", "attempt", attempt, "err", err, "retry_in", backoff)
		select {
		case <-p.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.opts.MaxBackoff)
	}
}

// current returns the live instance or an error wrapping sdk.ErrResources
// so that a call made during a restart fails at once.
func (p *Plugin) current() (*instance, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	switch {
	case p.closed:
		return nil, fmt.Errorf("backend plugin %s is closed: %w", p.name(), sdk.ErrResources)
	case p.cur == nil:
		return nil, fmt.Errorf("backend plugin %s is restarting: %w", p.name(), sdk.ErrResources)
	}
	return p.cur, nil
}

// name is the backend's name from Info; callers hold p.mu.
func (p *Plugin) name() string {
	if p.info != nil {
		return p.info.Name
	}
	return filepath.Base(p.path)
}

// failed turns the error of a call into one that says the plugin died,
// and wakes the health loop, when the call failed because of that.
func (p *Plugin) failed(inst *instance, err error) error {
	if err == nil {
		return nil
	}
	// The health loop takes an instance out (cur) before it kills it, so a
	// call that was on its way when that happened fails with whatever the
	// dying connection says ("the client connection is closing", a
	// cancellation): that, too, is the plugin going away.
	p.mu.RLock()
	gone := p.cur != inst
	p.mu.RUnlock()
	if gone || inst.client.Exited() {
		p.nudge()
		return fmt.Errorf("backend plugin %s went away during the call (%v): %w", inst.info.Name, err, sdk.ErrResources)
	}
	if errors.Is(err, sdk.ErrResources) {
		p.nudge() // maybe the plugin is gone (gRPC Unavailable): check now
	}
	return err
}

func (p *Plugin) nudge() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Info returns the backend's info as reported at its latest start; it
// makes no call, so it works while the plugin restarts.
func (p *Plugin) Info(context.Context) (*sdk.Info, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.info == nil {
		return nil, fmt.Errorf("backend plugin %s: no info: %w", p.name(), sdk.ErrResources)
	}
	info := *p.info
	return &info, nil
}

// Ping asks the running plugin for its info: a real round trip, used to
// measure the cost of a unary call.
func (p *Plugin) Ping(ctx context.Context) error {
	inst, err := p.current()
	if err != nil {
		return err
	}
	_, err = inst.b.Info(ctx)
	return p.failed(inst, err)
}

func (p *Plugin) Create(ctx context.Context, spec *sdk.Spec) (*sdk.Sandbox, error) {
	inst, err := p.current()
	if err != nil {
		return nil, err
	}
	sb, err := inst.b.Create(ctx, spec)
	return sb, p.failed(inst, err)
}

func (p *Plugin) Pause(ctx context.Context, id string) error {
	inst, err := p.current()
	if err != nil {
		return err
	}
	return p.failed(inst, inst.b.Pause(ctx, id))
}

func (p *Plugin) Resume(ctx context.Context, id string) error {
	inst, err := p.current()
	if err != nil {
		return err
	}
	return p.failed(inst, inst.b.Resume(ctx, id))
}

func (p *Plugin) Destroy(ctx context.Context, id string) error {
	inst, err := p.current()
	if err != nil {
		return err
	}
	return p.failed(inst, inst.b.Destroy(ctx, id))
}

func (p *Plugin) Logs(ctx context.Context, id string) (sdk.LogStream, error) {
	inst, err := p.current()
	if err != nil {
		return nil, err
	}
	ls, err := inst.b.Logs(ctx, id)
	return ls, p.failed(inst, err)
}

func (p *Plugin) List(ctx context.Context, labels map[string]string) ([]*sdk.Sandbox, error) {
	inst, err := p.current()
	if err != nil {
		return nil, err
	}
	sbs, err := inst.b.List(ctx, labels)
	return sbs, p.failed(inst, err)
}

// Prepare fails with sdk.ErrUnsupported unless the plugin declares
// Capabilities.Prepare.
func (p *Plugin) Prepare(ctx context.Context, kind, code string) error {
	inst, err := p.current()
	if err != nil {
		return err
	}
	if !inst.info.Capabilities.Prepare {
		return fmt.Errorf("prepare: backend %s: %w", inst.info.Name, sdk.ErrUnsupported)
	}
	return p.failed(inst, inst.b.(sdk.Preparer).Prepare(ctx, kind, code))
}

// Backend returns p as an sdk.Backend that implements sdk.Preparer only
// if the plugin declared Capabilities.Prepare, so that a type assertion
// tells the truth.
func (p *Plugin) Backend() sdk.Backend {
	p.mu.RLock()
	prepare := p.info != nil && p.info.Capabilities.Prepare
	p.mu.RUnlock()
	if prepare {
		return p
	}
	return backendOnly{p}
}

// backendOnly hides Prepare.
type backendOnly struct{ sdk.Backend }

// Pid returns the process id of the running plugin, or 0 while it
// restarts.
func (p *Plugin) Pid() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.cur == nil {
		return 0
	}
	return pid(p.cur.client)
}

func pid(c *plugin.Client) int {
	if rc := c.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Close stops the health loop and kills the plugin process. It is
// idempotent.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	inst := p.cur
	p.cur = nil
	close(p.stop)
	p.mu.Unlock()
	<-p.done
	if inst != nil {
		kill(inst.client)
	}
	return nil
}

// Cleanup kills every plugin process started by this package that is
// still running; defer it in main so that no plugin outlives the host
// when Close was never reached.
func Cleanup() { plugin.CleanupClients() }
