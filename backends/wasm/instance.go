package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/stokehq/stoke/sdk"
)

// randReader backs WASI random_get: guests must not see wazero's
// deterministic default.
var randReader = rand.Reader

// runInstance runs one activation in a fresh instance: the envelope on
// stdin, the last non-empty stdout line as the result, earlier stdout lines
// and all of stderr as logs.
func (sb *sandbox) runInstance(ctx context.Context, line []byte, env map[string]json.RawMessage) (*sdk.Reply, error) {
	rt := sb.b.runtime()
	if rt == nil {
		return nil, fmt.Errorf("wasm: run %s: backend closed: %w", sb.info.ID, sdk.ErrConnection)
	}
	out := &lastLine{sink: sb.sink}
	stdout := &lineWriter{max: sb.b.cfg.MaxStdoutBytes, emit: out.line}
	stderr := sb.sink.writer("stderr")
	cfg := sb.base.
		WithStdin(bytes.NewReader(line)).
		WithStdout(stdout).
		WithStderr(stderr).
		WithNanosleep(sleeper(ctx))
	owEnv(env, func(k, v string) { cfg = cfg.WithEnv(k, v) })

	ictx := experimental.WithMemoryAllocator(ctx, allocator{pool: sb.b.mem, limit: sb.limit})
	mod, err := rt.InstantiateModule(ictx, sb.mod.compiled, cfg)
	if mod != nil {
		mod.Close(context.WithoutCancel(ctx))
	}
	stdout.flush()
	stderr.flush()
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("wasm: run %s: %w", sb.info.ID, ctx.Err())
	}
	if r := sb.exitReply(err); r != nil {
		return r, nil
	}
	return sb.result(out.last, out.cut), nil
}

// lastLine keeps the latest stdout line as the result candidate and logs
// the one before it.
type lastLine struct {
	sink *sink
	last []byte
	cut  bool
	has  bool
}

func (o *lastLine) line(l []byte, cut bool) {
	if o.has {
		o.sink.line("stdout", o.last)
	}
	o.last = append(o.last[:0], l...)
	o.cut, o.has = cut, true
}

// exitReply maps how _start ended to a reply, or nil for a clean exit.
func (sb *sandbox) exitReply(err error) *sdk.Reply {
	if err == nil {
		return nil
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		switch code := ee.ExitCode(); code {
		case 0:
			return nil
		case sys.ExitCodeContextCanceled, sys.ExitCodeDeadlineExceeded:
			return errorReply(502, "The action was stopped.")
		default:
			return errorReply(502, fmt.Sprintf("The action exited with code %d.", code))
		}
	}
	// A trap: the first line names it; the stack trace goes to the logs.
	msg := err.Error()
	for l := range strings.SplitSeq(msg, "\n") {
		sb.sink.line("stderr", []byte(l))
	}
	msg = firstLine(msg)
	if _, after, ok := strings.Cut(msg, "failed: "); ok {
		msg = after
	}
	return errorReply(502, "The action trapped: "+msg)
}

// sleeper makes WASI sleeps real but cut short when ctx ends, so a sleeping
// guest cannot outlive its deadline.
func sleeper(ctx context.Context) sys.Nanosleep {
	done := ctx.Done()
	return func(ns int64) {
		if ns <= 0 {
			return
		}
		t := time.NewTimer(time.Duration(ns))
		defer t.Stop()
		select {
		case <-t.C:
		case <-done:
		}
	}
}
