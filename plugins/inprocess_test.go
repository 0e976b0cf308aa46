package plugins

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stokehq/stoke/sdk"
)

// panicky is a linked-in backend whose calls panic unless told otherwise.
type panicky struct{ api string }

func (b *panicky) Info(context.Context) (*sdk.Info, error) {
	return &sdk.Info{Name: "panicky", APIVersion: b.api}, nil
}
func (b *panicky) Create(context.Context, *sdk.Spec) (*sdk.Sandbox, error) { panic("create broke") }
func (b *panicky) Pause(context.Context, string) error                     { return sdk.ErrUnsupported }
func (b *panicky) Resume(context.Context, string) error                    { return sdk.ErrUnsupported }
func (b *panicky) Destroy(context.Context, string) error                   { var m map[string]int; m["x"]++; return nil }
func (b *panicky) Logs(context.Context, string) (sdk.LogStream, error)     { return nil, sdk.ErrNotFound }
func (b *panicky) List(context.Context, map[string]string) ([]*sdk.Sandbox, error) {
	return nil, nil
}

// dialer adds sdk.Dialer whose connections panic on Run.
type dialer struct{ panicky }

func (d *dialer) Dial(*sdk.Sandbox) (sdk.Conn, error) { return badConn{}, nil }

type badConn struct{}

func (badConn) Init(context.Context, []byte) (*sdk.Reply, error) { return &sdk.Reply{Status: 200}, nil }
func (badConn) Run(context.Context, []byte) (*sdk.Reply, error)  { panic("run broke") }
func (badConn) Close() error                                     { return nil }

// preparer adds sdk.Preparer.
type preparer struct{ panicky }

func (p *preparer) Prepare(context.Context, string, string) error { panic("prepare broke") }

func TestInProcess(t *testing.T) {
	ctx := context.Background()
	b, err := InProcess(ctx, &panicky{api: sdk.APIVersion})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"create", func() error { _, err := b.Create(ctx, &sdk.Spec{}); return err }, "create panicked: create broke"},
		{"destroy", func() error { return b.Destroy(ctx, "x") }, "destroy panicked: assignment to entry in nil map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "panicky") {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if err := b.Pause(ctx, "x"); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("Pause = %v, want the backend's own error", err)
	}
	if _, ok := b.(sdk.Preparer); ok {
		t.Error("wrapper is a Preparer although the backend is not")
	}
	if _, ok := b.(sdk.Dialer); ok {
		t.Error("wrapper is a Dialer although the backend is not")
	}
}

func TestInProcessOptionalInterfaces(t *testing.T) {
	ctx := context.Background()
	b, err := InProcess(ctx, &dialer{panicky{api: "1.4.0"}})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := b.(sdk.Dialer)
	if !ok {
		t.Fatal("wrapper of a Dialer is not a Dialer")
	}
	if _, ok := b.(sdk.Preparer); ok {
		t.Error("wrapper of a non-Preparer is a Preparer")
	}
	conn, err := d.Dial(&sdk.Sandbox{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Run(ctx, nil); err == nil || !strings.Contains(err.Error(), "run panicked") {
		t.Errorf("Run = %v, want a recovered panic", err)
	}

	b, err = InProcess(ctx, &preparer{panicky{api: "v1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := b.(sdk.Preparer)
	if !ok {
		t.Fatal("wrapper of a Preparer is not a Preparer")
	}
	if _, ok := b.(sdk.Dialer); ok {
		t.Error("wrapper of a non-Dialer is a Dialer")
	}
	if err := p.Prepare(ctx, "k", "c"); err == nil || !strings.Contains(err.Error(), "prepare panicked") {
		t.Errorf("Prepare = %v, want a recovered panic", err)
	}
}

func TestInProcessVersion(t *testing.T) {
	for _, api := range []string{"2.0.0", "0.9.0", "", "one", "v"} {
		t.Run(api, func(t *testing.T) {
			if _, err := InProcess(context.Background(), &panicky{api: api}); err == nil {
				t.Errorf("API version %q accepted", api)
			}
		})
	}
}

func BenchmarkInProcessInfo(b *testing.B) {
	w, err := InProcess(context.Background(), &panicky{api: sdk.APIVersion})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		w.Info(ctx)
	}
}
