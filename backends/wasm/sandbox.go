package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"

	"github.com/stokehq/stoke/sdk"
)

// sandbox is one action container's worth of state: the /init result and,
// in loop mode, the warm instance.
type sandbox struct {
	b     *Backend
	info  sdk.Sandbox
	mode  string
	limit uint64            // linear memory limit in bytes, 0 = none
	env   map[string]string // Spec.Env (__OW_API_HOST and the like)
	logs  *logHub
	sink  *sink

	// turn serialises /init and /run: activations on one sandbox never
	// overlap (Capabilities.Concurrent is false), which also keeps each
	// activation's logs between its sentinels.
	turn chan struct{}

	// Set by a successful /init, then read-only.
	mod  *module
	name string
	base wazero.ModuleConfig
	loop *loop

	mu     sync.Mutex
	inited bool
	closed bool
}

func newSandbox(b *Backend, id, mode string, spec *sdk.Spec) *sandbox {
	hub := newLogHub(max(2*b.cfg.MaxStderrBytes, 1<<20))
	sb := &sandbox{
		b:    b,
		mode: mode,
		env:  maps.Clone(spec.Env),
		logs: hub,
		sink: &sink{hub: hub, limit: b.cfg.MaxStderrBytes},
		turn: make(chan struct{}, 1),
		info: sdk.Sandbox{
			ID:       id,
			Kind:     spec.Kind,
			MemoryMB: spec.MemoryMB,
			Labels:   maps.Clone(spec.Labels),
		},
	}
	if spec.MemoryMB > 0 {
		sb.limit = min(uint64(spec.MemoryMB)<<20, uint64(65536)*pageSize)
	}
	return sb
}

func (sb *sandbox) record() *sdk.Sandbox {
	r := sb.info
	r.Labels = maps.Clone(sb.info.Labels)
	return &r
}

// acquire takes the sandbox's turn, or fails when ctx ends first.
func (sb *sandbox) acquire(ctx context.Context) error {
	select {
	case sb.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sb *sandbox) release() { <-sb.turn }

func (sb *sandbox) isClosed() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.closed
}

func (sb *sandbox) close() {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return
	}
	sb.closed = true
	l := sb.loop
	sb.mu.Unlock()
	if l != nil {
		l.kill()
	}
	sb.logs.close()
}

// errGone is returned by a Conn whose sandbox was destroyed.
var errGone = fmt.Errorf("%w: %w", sdk.ErrConnection, sdk.ErrNotFound)

// Reply messages, as the OpenWhisk proxies word them (reference/openwhisk.md §1.5).
const (
	msgReinit    = "Cannot initialize the action more than once."
	msgNoCode    = "Missing main/no code to execute."
	msgNotDict   = "The action did not return a dictionary or array."
	msgNotInited = "no action defined yet"
)

func errorReply(status int, msg string) *sdk.Reply {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return &sdk.Reply{Status: status, Body: body}
}

var okReply = []byte(`{"ok":true}`)

type initBody struct {
	Value *sdk.Init `json:"value"`
}

// Init handles a /init body.
func (sb *sandbox) Init(ctx context.Context, body []byte) (*sdk.Reply, error) {
	if err := sb.acquire(ctx); err != nil {
		return nil, err
	}
	defer sb.release()
	if sb.isClosed() {
		return nil, errGone
	}
	sb.mu.Lock()
	inited := sb.inited
	sb.mu.Unlock()
	if inited {
		// The refusal is logged, as the reference proxies do, but with no
		// sentinels: OpenWhisk's tests expect none for a refused re-init.
		sb.sink.line("stderr", []byte(msgReinit))
		return errorReply(403, msgReinit), nil
	}
	r, err := sb.init(ctx, body)
	if err != nil {
		return nil, err
	}
	if r.Status != 200 {
		sb.sink.end()
	}
	return r, nil
}

func (sb *sandbox) init(ctx context.Context, body []byte) (*sdk.Reply, error) {
	var in initBody
	if err := json.Unmarshal(body, &in); err != nil {
		return errorReply(400, "Error unmarshaling request: "+err.Error()), nil
	}
	if in.Value == nil || in.Value.Code == "" {
		return errorReply(403, msgNoCode), nil
	}
	m, err := sb.b.module(ctx, in.Value.Code)
	if err != nil {
		var ce *codeError
		if errors.As(err, &ce) {
			sb.sink.line("stderr", []byte(ce.msg))
			return errorReply(502, ce.msg), nil
		}
		return nil, fmt.Errorf("wasm: init %s: %w", sb.info.ID, err)
	}
	if sb.limit > 0 && uint64(m.minPages)*pageSize > sb.limit {
		msg := fmt.Sprintf("The module needs %d MiB of initial memory, more than the action's limit of %d MiB.",
			(uint64(m.minPages)*pageSize+1<<20-1)>>20, sb.limit>>20)
		return errorReply(502, msg), nil
	}

	name := in.Value.Name
	if name == "" {
		name = "action"
	}
	base := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module at once
		WithArgs(name).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(randReader)
	// Spec env first so that the action's own init env wins, as in the Go proxy.
	for _, env := range []map[string]string{sb.env, in.Value.Env} {
		for k, v := range env {
			if validEnv(k, v) {
				base = base.WithEnv(k, v)
			}
		}
	}
	sb.mod, sb.name, sb.base = m, name, base

	if sb.mode == ModeLoop {
		l, err := sb.startLoop()
		if err != nil {
			return nil, err
		}
		sb.mu.Lock()
		sb.loop = l
		closed := sb.closed
		sb.mu.Unlock()
		if closed { // destroyed while starting: close() saw no loop
			l.kill()
		}
	}
	sb.mu.Lock()
	sb.inited = true
	sb.mu.Unlock()
	return &sdk.Reply{Status: 200, Body: okReply}, nil
}

// validEnv drops what WASI cannot carry (wazero refuses NUL; "=" in a key
// would be read back as a different variable).
func validEnv(k, v string) bool {
	return k != "" && !strings.ContainsAny(k, "=\x00") && !strings.Contains(v, "\x00")
}

// Run handles a /run body.
func (sb *sandbox) Run(ctx context.Context, body []byte) (*sdk.Reply, error) {
	if err := sb.acquire(ctx); err != nil {
		return nil, err
	}
	defer sb.release()
	if sb.isClosed() {
		return nil, errGone
	}
	sb.mu.Lock()
	inited := sb.inited
	sb.mu.Unlock()
	// Every /run ends with sentinels, whatever happened.
	defer sb.sink.end()
	if !inited {
		return errorReply(500, msgNotInited), nil
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return errorReply(400, "Error unmarshaling request: "+err.Error()), nil
	}
	line := envelopeLine(body)
	if sb.mode == ModeLoop {
		return sb.loop.run(ctx, line)
	}
	return sb.runInstance(ctx, line, env)
}

// envelopeLine makes the /run body one line: JSON never needs a raw
// newline (inside strings they are escaped), so dropping them is safe.
func envelopeLine(body []byte) []byte {
	line := make([]byte, 0, len(body)+1)
	for _, c := range body {
		if c != '\n' && c != '\r' {
			line = append(line, c)
		}
	}
	return append(line, '\n')
}

// owEnv returns __OW_<KEY> for every top-level string key except "value".
func owEnv(env map[string]json.RawMessage, f func(k, v string)) {
	for k, raw := range env {
		if k == "value" || len(raw) == 0 || raw[0] != '"' {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		k = "__OW_" + strings.ToUpper(k)
		if validEnv(k, v) {
			f(k, v)
		}
	}
}

// result turns the result line into a reply.
func (sb *sandbox) result(line []byte, cut bool) *sdk.Reply {
	if cut {
		return errorReply(502, fmt.Sprintf("The action's result exceeded the limit of %d bytes.", sb.b.cfg.MaxStdoutBytes))
	}
	line = trimSpace(line)
	if len(line) == 0 || (line[0] != '{' && line[0] != '[') || !json.Valid(line) {
		return errorReply(502, msgNotDict)
	}
	return &sdk.Reply{Status: 200, Body: line}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// conn is the in-process sdk.Conn returned by Dial.
type conn struct{ sb *sandbox }

func (c conn) Init(ctx context.Context, body []byte) (*sdk.Reply, error) { return c.sb.Init(ctx, body) }
func (c conn) Run(ctx context.Context, body []byte) (*sdk.Reply, error)  { return c.sb.Run(ctx, body) }
func (c conn) Close() error                                              { return nil }
