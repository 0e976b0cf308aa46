package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/stokehq/stoke/sdk"
)

// InProcess wraps a backend linked into the binary with what the host
// adds to a plugin: the API version check (done here, once) and a panic
// in a backend call turned into an error, as a crashed plugin turns into
// one. The result implements sdk.Preparer and sdk.Dialer exactly when b
// does; connections from Dial recover panics too.
func InProcess(ctx context.Context, b sdk.Backend) (sdk.Backend, error) {
	w := &inproc{b: b, name: fmt.Sprintf("%T", b)}
	info, err := w.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("in-process backend %s: %w", w.name, err)
	}
	if err := checkInfo(info); err != nil {
		return nil, err
	}
	w.name = info.Name
	p, isPrep := b.(sdk.Preparer)
	d, isDial := b.(sdk.Dialer)
	switch {
	case isPrep && isDial:
		return &inprocPrepDial{inproc: w, inprocPrep: inprocPrep{w, p}, inprocDial: inprocDial{w, d}}, nil
	case isPrep:
		return &struct {
			*inproc
			inprocPrep
		}{w, inprocPrep{w, p}}, nil
	case isDial:
		return &struct {
			*inproc
			inprocDial
		}{w, inprocDial{w, d}}, nil
	}
	return w, nil
}

type inprocPrepDial struct {
	*inproc
	inprocPrep
	inprocDial
}

// inproc is the sdk.Backend part.
type inproc struct {
	b    sdk.Backend
	name string
}

// recoverTo turns a panic into *err. The stack goes to the log: the
// error alone would not say where the backend broke.
func (w *inproc) recoverTo(op string, err *error) {
	if r := recover(); r != nil {
		slog.Error("backend panicked", "backend", w.name, "op", op, "panic", r, "stack", string(debug.Stack()))
		*err = fmt.Errorf("backend %s: %s panicked: %v", w.name, op, r)
	}
}

func (w *inproc) Info(ctx context.Context) (_ *sdk.Info, err error) {
	defer w.recoverTo("info", &err)
	return w.b.Info(ctx)
}

func (w *inproc) Create(ctx context.Context, spec *sdk.Spec) (_ *sdk.Sandbox, err error) {
	defer w.recoverTo("create", &err)
	return w.b.Create(ctx, spec)
}

func (w *inproc) Pause(ctx context.Context, id string) (err error) {
	defer w.recoverTo("pause", &err)
	return w.b.Pause(ctx, id)
}

func (w *inproc) Resume(ctx context.Context, id string) (err error) {
	defer w.recoverTo("resume", &err)
	return w.b.Resume(ctx, id)
}

func (w *inproc) Destroy(ctx context.Context, id string) (err error) {
	defer w.recoverTo("destroy", &err)
	return w.b.Destroy(ctx, id)
}

func (w *inproc) Logs(ctx context.Context, id string) (_ sdk.LogStream, err error) {
	defer w.recoverTo("logs", &err)
	ls, err := w.b.Logs(ctx, id)
	if err != nil {
		return nil, err
	}
	return &inprocLogs{w, ls}, nil
}

func (w *inproc) List(ctx context.Context, labels map[string]string) (_ []*sdk.Sandbox, err error) {
	defer w.recoverTo("list", &err)
	return w.b.List(ctx, labels)
}

type inprocLogs struct {
	w  *inproc
	ls sdk.LogStream
}

func (l *inprocLogs) Next(ctx context.Context) (_ sdk.LogLine, err error) {
	defer l.w.recoverTo("logs next", &err)
	return l.ls.Next(ctx)
}

func (l *inprocLogs) Close() (err error) {
	defer l.w.recoverTo("logs close", &err)
	return l.ls.Close()
}

type inprocPrep struct {
	w *inproc
	p sdk.Preparer
}

func (p inprocPrep) Prepare(ctx context.Context, kind, code string) (err error) {
	defer p.w.recoverTo("prepare", &err)
	return p.p.Prepare(ctx, kind, code)
}

type inprocDial struct {
	w *inproc
	d sdk.Dialer
}

func (d inprocDial) Dial(sb *sdk.Sandbox) (_ sdk.Conn, err error) {
	defer d.w.recoverTo("dial", &err)
	c, err := d.d.Dial(sb)
	if err != nil {
		return nil, err
	}
	return &inprocConn{d.w, c}, nil
}

// inprocConn recovers panics on the warm path too; a deferred recover
// costs nanoseconds.
type inprocConn struct {
	w *inproc
	c sdk.Conn
}

func (c *inprocConn) Init(ctx context.Context, body []byte) (_ *sdk.Reply, err error) {
	defer c.w.recoverTo("init", &err)
	return c.c.Init(ctx, body)
}

func (c *inprocConn) Run(ctx context.Context, body []byte) (_ *sdk.Reply, err error) {
	defer c.w.recoverTo("run", &err)
	return c.c.Run(ctx, body)
}

func (c *inprocConn) Close() (err error) {
	defer c.w.recoverTo("close", &err)
	return c.c.Close()
}
