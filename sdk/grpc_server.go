package sdk

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stokehq/stoke/sdk/proto"
)

// grpcServer serves a Backend as the proto.Backend gRPC service, inside
// the plugin process.
type grpcServer struct {
	proto.UnimplementedBackendServer
	b Backend
}

func (s *grpcServer) Info(ctx context.Context, _ *proto.InfoRequest) (*proto.InfoResponse, error) {
	info, err := s.b.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if info == nil {
		return nil, status.Error(codes.Internal, "backend returned no info")
	}
	return infoToProto(info), nil
}

func (s *grpcServer) Create(ctx context.Context, req *proto.CreateRequest) (*proto.CreateResponse, error) {
	if req.Spec == nil {
		return nil, status.Error(codes.InvalidArgument, "create: "+ErrInvalid.Error()+": no spec")
	}
	sb, err := s.b.Create(ctx, specFromProto(req.Spec))
	if err != nil {
		return nil, toStatus(err)
	}
	if sb == nil {
		return nil, status.Error(codes.Internal, "backend returned no sandbox")
	}
	return &proto.CreateResponse{Sandbox: sandboxToProto(sb)}, nil
}

func (s *grpcServer) Pause(ctx context.Context, req *proto.PauseRequest) (*proto.PauseResponse, error) {
	return &proto.PauseResponse{}, toStatus(s.b.Pause(ctx, req.Id))
}

func (s *grpcServer) Resume(ctx context.Context, req *proto.ResumeRequest) (*proto.ResumeResponse, error) {
	return &proto.ResumeResponse{}, toStatus(s.b.Resume(ctx, req.Id))
}

func (s *grpcServer) Destroy(ctx context.Context, req *proto.DestroyRequest) (*proto.DestroyResponse, error) {
	return &proto.DestroyResponse{}, toStatus(s.b.Destroy(ctx, req.Id))
}

// Logs sends headers once the backend has opened the stream, so that the
// client can tell "opened" from "refused" (an unknown id) before the first
// line, the way an in-process Logs call returns its error at once.
func (s *grpcServer) Logs(req *proto.LogsRequest, stream proto.Backend_LogsServer) error {
	ctx := stream.Context()
	ls, err := s.b.Logs(ctx, req.Id)
	if err != nil {
		return toStatus(err)
	}
	defer ls.Close()
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	for {
		line, err := ls.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return toStatus(err)
		}
		err = stream.Send(&proto.LogLine{
			TimeUnixNano: line.Time.UnixNano(),
			Stream:       line.Stream,
			Text:         line.Text,
		})
		if err != nil {
			return err
		}
	}
}

func (s *grpcServer) List(ctx context.Context, req *proto.ListRequest) (*proto.ListResponse, error) {
	sbs, err := s.b.List(ctx, req.Labels)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &proto.ListResponse{Sandboxes: make([]*proto.Sandbox, 0, len(sbs))}
	for _, sb := range sbs {
		if sb != nil {
			resp.Sandboxes = append(resp.Sandboxes, sandboxToProto(sb))
		}
	}
	return resp, nil
}

func (s *grpcServer) Prepare(ctx context.Context, req *proto.PrepareRequest) (*proto.PrepareResponse, error) {
	p, ok := s.b.(Preparer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "prepare: "+ErrUnsupported.Error())
	}
	return &proto.PrepareResponse{}, toStatus(p.Prepare(ctx, req.Kind, req.Code))
}

// toStatus turns a backend error into a gRPC status whose code names the
// sdk error it wraps; the message is kept whole so the host can rebuild
// the error (see fromStatus).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, ErrResources):
		code = codes.ResourceExhausted
	case errors.Is(err, ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}

func infoToProto(i *Info) *proto.InfoResponse {
	return &proto.InfoResponse{
		Name:       i.Name,
		Version:    i.Version,
		ApiVersion: i.APIVersion,
		Kinds:      i.Kinds,
		Capabilities: &proto.Capabilities{
			Pause:       i.Capabilities.Pause,
			Prepare:     i.Capabilities.Prepare,
			MemoryLimit: i.Capabilities.MemoryLimit,
			Network:     i.Capabilities.Network,
			Concurrent:  i.Capabilities.Concurrent,
		},
	}
}

func infoFromProto(p *proto.InfoResponse) *Info {
	i := &Info{
		Name:       p.Name,
		Version:    p.Version,
		APIVersion: p.ApiVersion,
		Kinds:      p.Kinds,
	}
	if c := p.Capabilities; c != nil {
		i.Capabilities = Capabilities{
			Pause:       c.Pause,
			Prepare:     c.Prepare,
			MemoryLimit: c.MemoryLimit,
			Network:     c.Network,
			Concurrent:  c.Concurrent,
		}
	}
	return i
}

func specToProto(s *Spec) *proto.Spec {
	return &proto.Spec{
		Name:        s.Name,
		Kind:        s.Kind,
		Image:       s.Image,
		MemoryMb:    int64(s.MemoryMB),
		Env:         s.Env,
		Network:     s.Network,
		Labels:      s.Labels,
		Annotations: s.Annotations,
	}
}

func specFromProto(p *proto.Spec) *Spec {
	return &Spec{
		Name:        p.Name,
		Kind:        p.Kind,
		Image:       p.Image,
		MemoryMB:    int(p.MemoryMb),
		Env:         p.Env,
		Network:     p.Network,
		Labels:      p.Labels,
		Annotations: p.Annotations,
	}
}

func sandboxToProto(s *Sandbox) *proto.Sandbox {
	return &proto.Sandbox{
		Id:       s.ID,
		Endpoint: s.Endpoint,
		Kind:     s.Kind,
		MemoryMb: int64(s.MemoryMB),
		Labels:   s.Labels,
		State:    s.State,
	}
}

func sandboxFromProto(p *proto.Sandbox) *Sandbox {
	return &Sandbox{
		ID:       p.Id,
		Endpoint: p.Endpoint,
		Kind:     p.Kind,
		MemoryMB: int(p.MemoryMb),
		Labels:   p.Labels,
		State:    p.State,
	}
}

func logLineFromProto(p *proto.LogLine) LogLine {
	return LogLine{Time: time.Unix(0, p.TimeUnixNano), Stream: p.Stream, Text: p.Text}
}
