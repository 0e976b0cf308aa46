package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// fakeBackend answers from fixed data; the test checks what crosses gRPC.
type fakeBackend struct {
	lastSpec *Spec
	err      error // returned by Pause, Resume and Destroy
}

func (f *fakeBackend) Info(context.Context) (*Info, error) {
	return &Info{Name: "fake", Version: "0.1.0", APIVersion: APIVersion, Kinds: []string{"a", "b"},
		Capabilities: Capabilities{Pause: true, MemoryLimit: true, Network: true, Concurrent: true}}, nil
}

func (f *fakeBackend) Create(_ context.Context, s *Spec) (*Sandbox, error) {
	f.lastSpec = s
	return &Sandbox{ID: "id1", Endpoint: "http://127.0.0.1:1", Kind: s.Kind, MemoryMB: s.MemoryMB,
		Labels: s.Labels, State: []byte{0, 1, 2}}, nil
}

func (f *fakeBackend) Pause(context.Context, string) error   { return f.err }
func (f *fakeBackend) Resume(context.Context, string) error  { return f.err }
func (f *fakeBackend) Destroy(context.Context, string) error { return f.err }

func (f *fakeBackend) Logs(_ context.Context, id string) (LogStream, error) {
	if id != "id1" {
		return nil, fmt.Errorf("logs %s: %w", id, ErrNotFound)
	}
	return &sliceStream{lines: []LogLine{
		{Time: time.Unix(1, 5), Stream: "stdout", Text: "hello"},
		{Time: time.Unix(2, 0), Stream: "stderr", Text: Sentinel},
	}}, nil
}

func (f *fakeBackend) List(_ context.Context, labels map[string]string) ([]*Sandbox, error) {
	return []*Sandbox{{ID: "id1", Labels: labels}}, nil
}

type sliceStream struct{ lines []LogLine }

func (s *sliceStream) Next(context.Context) (LogLine, error) {
	if len(s.lines) == 0 {
		return LogLine{}, io.EOF
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	return l, nil
}
func (s *sliceStream) Close() error { return nil }

func dispense(t *testing.T, b Backend) *grpcClient {
	t.Helper()
	c, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &GRPCPlugin{Backend: b}})
	t.Cleanup(func() { c.Close() })
	raw, err := c.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*grpcClient)
}

func TestGRPCRoundTrip(t *testing.T) {
	fb := &fakeBackend{}
	c := dispense(t, fb)
	ctx := context.Background()

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fb.Info(ctx)
	if !reflect.DeepEqual(info, want) {
		t.Errorf("info = %+v, want %+v", info, want)
	}

	spec := &Spec{Name: "n", Kind: "a", Image: "img", MemoryMB: 256, Env: map[string]string{"E": "1"},
		Network: "net", Labels: map[string]string{"l": "1"}, Annotations: map[string]string{"wasm-mode": "loop"}}
	sb, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fb.lastSpec, spec) {
		t.Errorf("spec crossed as %+v, want %+v", fb.lastSpec, spec)
	}
	wantSB := &Sandbox{ID: "id1", Endpoint: "http://127.0.0.1:1", Kind: "a", MemoryMB: 256,
		Labels: map[string]string{"l": "1"}, State: []byte{0, 1, 2}}
	if !reflect.DeepEqual(sb, wantSB) {
		t.Errorf("sandbox = %+v, want %+v", sb, wantSB)
	}

	sbs, err := c.List(ctx, map[string]string{"x": "y"})
	if err != nil || len(sbs) != 1 || sbs[0].Labels["x"] != "y" {
		t.Errorf("list = %v, %v", sbs, err)
	}

	ls, err := c.Logs(ctx, "id1")
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	var got []LogLine
	for {
		l, err := ls.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	if len(got) != 2 || got[0].Text != "hello" || !got[0].Time.Equal(time.Unix(1, 5)) || got[1].Stream != "stderr" {
		t.Errorf("log lines = %+v", got)
	}

	if _, err := c.Logs(ctx, "nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "logs nope") {
		t.Errorf("logs on unknown id: %v, want ErrNotFound with the plugin's message", err)
	}
	if err := c.Prepare(ctx, "a", "code"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("prepare on a backend without Preparer: %v, want ErrUnsupported", err)
	}
}

func TestGRPCErrors(t *testing.T) {
	for _, kind := range []error{ErrNotFound, ErrUnsupported, ErrResources, ErrInvalid, context.Canceled, context.DeadlineExceeded} {
		t.Run(kind.Error(), func(t *testing.T) {
			fb := &fakeBackend{err: fmt.Errorf("destroy x: %w", kind)}
			c := dispense(t, fb)
			err := c.Destroy(context.Background(), "x")
			if !errors.Is(err, kind) {
				t.Errorf("errors.Is(%v, %v) = false", err, kind)
			}
			if err == nil || err.Error() != fb.err.Error() {
				t.Errorf("message = %v, want %q", err, fb.err)
			}
		})
	}
	t.Run("other", func(t *testing.T) {
		c := dispense(t, &fakeBackend{err: errors.New("boom")})
		err := c.Pause(context.Background(), "x")
		if err == nil || err.Error() != "boom" {
			t.Errorf("err = %v, want boom", err)
		}
		for _, kind := range []error{ErrNotFound, ErrUnsupported, ErrResources, ErrInvalid} {
			if errors.Is(err, kind) {
				t.Errorf("untyped error became %v", kind)
			}
		}
	})
}
