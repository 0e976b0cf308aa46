package wasm

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/stokehq/stoke/sdk"
)

// loop is a warm instance in loop mode: _start runs on its own goroutine
// and reads one envelope line per activation from stdin; each stdout line
// that starts with '{' or '[' answers the activation in progress, other
// stdout lines are logs. It lives until Destroy, a deadline, or its exit.
type loop struct {
	sb     *sandbox
	cancel context.CancelFunc
	feed   *feed

	mu     sync.Mutex
	waiter chan result // the activation waiting for its result line

	exited  chan struct{}
	exitErr error // how _start ended; set before exited closes
	once    sync.Once
}

type result struct {
	line []byte
	cut  bool
}

func (sb *sandbox) startLoop() (*loop, error) {
	rt := sb.b.runtime()
	if rt == nil {
		return nil, fmt.Errorf("wasm: init %s: backend closed: %w", sb.info.ID, sdk.ErrConnection)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{
		sb:     sb,
		cancel: cancel,
		feed:   &feed{ch: make(chan []byte, 1), done: make(chan struct{})},
		exited: make(chan struct{}),
	}
	stdout := &lineWriter{max: sb.b.cfg.MaxStdoutBytes, emit: l.stdoutLine}
	stderr := sb.sink.writer("stderr")
	cfg := sb.base.
		WithStdin(l.feed).
		WithStdout(stdout).
		WithStderr(stderr).
		WithNanosleep(sleeper(ctx))
	ictx := experimental.WithMemoryAllocator(ctx, allocator{pool: sb.b.mem, limit: sb.limit})
	go func() {
		mod, err := rt.InstantiateModule(ictx, sb.mod.compiled, cfg)
		if mod != nil {
			mod.Close(context.Background())
		}
		stdout.flush()
		stderr.flush()
		l.exitErr = err
		close(l.exited)
	}()
	return l, nil
}

func (l *loop) stdoutLine(line []byte, cut bool) {
	if !cut && !looksJSON(line) {
		l.sb.sink.line("stdout", line)
		return
	}
	l.mu.Lock()
	w := l.waiter
	l.waiter = nil
	l.mu.Unlock()
	if w == nil {
		// A result nobody asked for: keep it visible as a log line.
		l.sb.sink.line("stdout", line)
		return
	}
	w <- result{append([]byte(nil), line...), cut}
}

func looksJSON(b []byte) bool {
	b = trimSpace(b)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// run hands the envelope line to the warm instance and waits for its
// result line.
func (l *loop) run(ctx context.Context, line []byte) (*sdk.Reply, error) {
	select {
	case <-l.exited:
		return l.deadReply(), nil
	default:
	}
	w := make(chan result, 1)
	l.mu.Lock()
	l.waiter = w
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiter = nil
		l.mu.Unlock()
	}()

	select {
	case l.feed.ch <- line:
	case <-l.exited:
		return l.deadReply(), nil
	case <-ctx.Done():
		return nil, l.timeout(ctx)
	}
	select {
	case r := <-w:
		return l.sb.result(r.line, r.cut), nil
	case <-l.exited:
		select {
		case r := <-w:
			return l.sb.result(r.line, r.cut), nil
		default:
		}
		return l.deadReply(), nil
	case <-ctx.Done():
		return nil, l.timeout(ctx)
	}
}

// timeout kills the instance (the invoker destroys the sandbox anyway) and
// waits briefly for it, so that its logs land before the sentinels.
func (l *loop) timeout(ctx context.Context) error {
	l.kill()
	select {
	case <-l.exited:
	case <-time.After(time.Second):
	}
	return fmt.Errorf("wasm: run %s: %w", l.sb.info.ID, ctx.Err())
}

// deadReply answers an activation once the instance has ended.
func (l *loop) deadReply() *sdk.Reply {
	if r := l.sb.exitReply(l.exitErr); r != nil {
		return r
	}
	return errorReply(502, "The action exited without returning a result.")
}

// kill stops the instance: the ctx ends wasm code at its next check, and
// the closed feed ends a guest blocked reading stdin.
func (l *loop) kill() {
	l.once.Do(func() {
		l.cancel()
		close(l.feed.done)
	})
}

// feed is the loop instance's stdin: envelope lines handed over one at a
// time, EOF once killed.
type feed struct {
	ch   chan []byte
	done chan struct{}
	cur  []byte
}

func (f *feed) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(f.cur) == 0 {
		select {
		case b := <-f.ch:
			f.cur = b
		case <-f.done:
			return 0, io.EOF
		}
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}
