package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stokehq/stoke/sdk/proto"
)

// grpcClient is a Backend and Preparer that calls a plugin over gRPC, on
// the host side. Whether Prepare works is the plugin's
// Capabilities.Prepare; without it, Prepare fails with ErrUnsupported.
type grpcClient struct {
	c proto.BackendClient
}

var (
	_ Backend  = (*grpcClient)(nil)
	_ Preparer = (*grpcClient)(nil)
)

func (c *grpcClient) Info(ctx context.Context) (*Info, error) {
	resp, err := c.c.Info(ctx, &proto.InfoRequest{})
	if err != nil {
		return nil, fromStatus(err)
	}
	return infoFromProto(resp), nil
}

func (c *grpcClient) Create(ctx context.Context, spec *Spec) (*Sandbox, error) {
	if spec == nil {
		return nil, fmt.Errorf("create: %w: no spec", ErrInvalid)
	}
	resp, err := c.c.Create(ctx, &proto.CreateRequest{Spec: specToProto(spec)})
	if err != nil {
		return nil, fromStatus(err)
	}
	if resp.Sandbox == nil {
		return nil, errors.New("create: plugin returned no sandbox")
	}
	return sandboxFromProto(resp.Sandbox), nil
}

func (c *grpcClient) Pause(ctx context.Context, id string) error {
	_, err := c.c.Pause(ctx, &proto.PauseRequest{Id: id})
	return fromStatus(err)
}

func (c *grpcClient) Resume(ctx context.Context, id string) error {
	_, err := c.c.Resume(ctx, &proto.ResumeRequest{Id: id})
	return fromStatus(err)
}

func (c *grpcClient) Destroy(ctx context.Context, id string) error {
	_, err := c.c.Destroy(ctx, &proto.DestroyRequest{Id: id})
	return fromStatus(err)
}

func (c *grpcClient) List(ctx context.Context, labels map[string]string) ([]*Sandbox, error) {
	resp, err := c.c.List(ctx, &proto.ListRequest{Labels: labels})
	if err != nil {
		return nil, fromStatus(err)
	}
	sbs := make([]*Sandbox, 0, len(resp.Sandboxes))
	for _, sb := range resp.Sandboxes {
		sbs = append(sbs, sandboxFromProto(sb))
	}
	return sbs, nil
}

func (c *grpcClient) Prepare(ctx context.Context, kind, code string) error {
	_, err := c.c.Prepare(ctx, &proto.PrepareRequest{Kind: kind, Code: code})
	return fromStatus(err)
}

// Logs waits for the server's headers, which it sends once the backend
// has opened the stream, so that an unknown id fails here and not on the
// first Next.
func (c *grpcClient) Logs(ctx context.Context, id string) (LogStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	st, err := c.c.Logs(ctx, &proto.LogsRequest{Id: id})
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	md, err := st.Header()
	if err == nil && md == nil {
		// Ended before headers: Recv carries the status.
		_, err = st.Recv()
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("logs %s: plugin closed the stream before opening it", id)
		}
	}
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	ls := &logStream{cancel: cancel, lines: make(chan logResult, 64), done: make(chan struct{})}
	go ls.pump(st)
	return ls, nil
}

type logResult struct {
	line LogLine
	err  error
}

// logStream turns a gRPC stream, bound to the Logs ctx, into Next calls
// that each honour their own ctx: a goroutine receives into a channel.
type logStream struct {
	cancel context.CancelFunc
	lines  chan logResult
	done   chan struct{}
	once   sync.Once
	err    error // the stream's final error, set by Next
}

func (s *logStream) pump(st proto.Backend_LogsClient) {
	for {
		m, err := st.Recv()
		r := logResult{err: err}
		if err == nil {
			r.line = logLineFromProto(m)
		} else if !errors.Is(err, io.EOF) {
			r.err = fromStatus(err)
		}
		select {
		case s.lines <- r:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (s *logStream) Next(ctx context.Context) (LogLine, error) {
	if s.err != nil {
		return LogLine{}, s.err
	}
	select {
	case r := <-s.lines:
		if r.err != nil {
			s.err = r.err
		}
		return r.line, r.err
	case <-s.done:
		return LogLine{}, errors.New("log stream closed")
	case <-ctx.Done():
		return LogLine{}, ctx.Err()
	}
}

func (s *logStream) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.cancel()
	})
	return nil
}

// remoteError is a backend error rebuilt on the host side: the plugin's
// message, unwrapping to the sdk error its status code names.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// fromStatus rebuilds an error that crossed gRPC so that errors.Is works
// as it would in-process (see toStatus for the other side).
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	var kind error
	switch st.Code() {
	case codes.NotFound:
		kind = ErrNotFound
	case codes.Unimplemented:
		kind = ErrUnsupported
	case codes.ResourceExhausted:
		kind = ErrResources
	case codes.InvalidArgument:
		kind = ErrInvalid
	case codes.Canceled:
		kind = context.Canceled
	case codes.DeadlineExceeded:
		kind = context.DeadlineExceeded
	case codes.Unavailable:
		// The plugin is gone or not answering: for the invoker that is a
		// backend out of resources, not a bad action.
		kind = ErrResources
		msg = "backend plugin unavailable: " + msg
	default:
		return errors.New(msg)
	}
	return &remoteError{msg: msg, kind: kind}
}
