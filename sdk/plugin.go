package sdk

import (
	"context"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/stokehq/stoke/sdk/proto"
)

// ProtocolVersion is the go-plugin protocol version: it guards the wire
// format of sdk/proto/backend.proto. Bump it only for a change an older
// peer cannot read (a renumbered or retyped field, a removed RPC); adding
// fields or RPCs does not bump it. Behaviour changes bump APIVersion.
const ProtocolVersion = 1

// Handshake is shared by the host and every plugin. The cookie only stops
// a user from running a plugin binary by hand; it is not a security check.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "STOKE_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "8f2c1d0b7a5e4e9c9b6a3f4d2e1c0b7a",
}

// PluginName is the name under which a plugin serves its Backend.
const PluginName = "backend"

// maxMessageBytes lifts gRPC's 4 MiB default: Prepare carries action code,
// which OpenWhisk allows up to 48 MiB. go-plugin lifts the limit on the
// client only, so Serve lifts it on the server.
const maxMessageBytes = math.MaxInt32

// VersionedPlugins is the plugin set for go-plugin's ClientConfig and
// ServeConfig. The host passes a nil Backend; a plugin passes its own.
func VersionedPlugins(b Backend) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Backend: b}},
	}
}

// GRPCPlugin is the go-plugin glue for a Backend, over gRPC only.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Backend is served on the plugin side; nil on the host side.
	Backend Backend
}

// GRPCServer registers the Backend service on the plugin's server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterBackendServer(s, &grpcServer{b: p.Backend})
	return nil
}

// GRPCClient returns a Backend (and Preparer) that calls the plugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{c: proto.NewBackendClient(c)}, nil
}

// Serve runs b as a plugin; call it from a plugin's main. It does not
// return. Run by hand rather than by a host, it prints a short notice and
// exits 1.
//
// The plugin must never write to stdout before Serve: stdout carries the
// handshake. Serve sets slog's default logger to JSON on stderr in hclog's
// shape, so the host logs each record at its own level.
func Serve(b Backend) {
	stderr := os.Stderr // Serve replaces os.Stderr with a pipe; keep the real one
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Level:      hclog.Info,
		Output:     stderr,
		JSONFormat: true,
	})
	slog.SetDefault(slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{
		Level:       slog.LevelInfo,
		ReplaceAttr: hclogAttrs,
	})))
	go exitWithParent()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(b),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(maxMessageBytes), grpc.MaxSendMsgSize(maxMessageBytes))
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})
}

// hclogAttrs renames slog's built-in keys to hclog's JSON keys, which
// go-plugin parses on the host.
func hclogAttrs(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		// go-plugin parses exactly this layout; any other and the whole
		// line is logged as plain text at debug.
		a.Key = "@timestamp"
		a.Value = slog.StringValue(a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	case slog.LevelKey:
		a.Key = "@level"
	case slog.MessageKey:
		a.Key = "@message"
	}
	return a
}

// exitWithParent ends the plugin when its host dies without killing it
// (SIGKILL, a crash): go-plugin has no parent-death signal, and an orphan
// would hold its sandboxes forever. The host finds leftovers with List.
func exitWithParent() {
	parent := os.Getppid()
	for range time.Tick(time.Second) {
		if os.Getppid() != parent {
			os.Exit(1)
		}
	}
}
