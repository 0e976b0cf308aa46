// Package broker runs an embedded Kafka-protocol broker (twmb/franz-go's
// kfake) inside the process, so `--embedded-kafka` and the tests exercise the
// real Kafka client path (librdkafka through confluent-kafka-go) on one
// machine without a JVM.
//
// It is one broker, plaintext, no auth. Topics are created on demand with one
// partition, as OpenWhisk does. Without DataDir everything lives in memory and
// is lost on Close; with DataDir the log and committed offsets survive a
// restart.
//
// librdkafka needs nothing special to talk to it: ApiVersions is answered,
// so api.version.request stays on (the default) and no
// broker.version.fallback is needed; consumer groups (classic protocol),
// offset commits, CreateTopics and metadata-driven auto-creation all work.
// One thing differs from a stock broker: the minimum group session timeout is
// lowered to 1 s so tests can exercise fast failover.
package broker

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config says where the broker listens.
type Config struct {
	// Listen is host:port, e.g. "127.0.0.1:9092", or "127.0.0.1:0" for a free
	// port. The broker advertises this address to clients, so the host must
	// be one they can reach; an empty host means 127.0.0.1.
	Listen string
	// DataDir, when set, persists topics, the log and group offsets there,
	// so a restarted broker serves what the previous one stored.
	DataDir string
	Logger  *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Start starts a broker and returns once it accepts connections.
func Start(cfg Config) (*Broker, error) {
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen address %q: %w", listen, err)
	}
	if host == "" {
		// kfake advertises the listener's own address; "[::]" is not a
		// useful address to hand to clients.
		host = "127.0.0.1"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake picks the port from Ports and always binds 127.0.0.1; the
		// listen function puts our host back.
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.WithLogger(logger{log}),
	}
	if port != "" && port != "0" {
		var p int
		if _, err := fmt.Sscanf(port, "%d", &p); err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("embedded broker: bad port %q", port)
		}
		opts = append(opts, kfake.Ports(p))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		c.Close()
		return nil, fmt.Errorf("embedded broker: listening on %v, want one address", addrs)
	}
	return &Broker{c: c, addr: addrs[0]}, nil
}

// Addr is the bootstrap address for clients (host:port).
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker and drops its connections. Without DataDir its data
// is gone.
func (b *Broker) Close() error {
	b.c.Close()
	return nil
}

// logger forwards kfake's warnings and errors to slog; its info level logs
// every request, which is noise.
type logger struct{ l *slog.Logger }

func (l logger) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.l.Error("kafka broker: " + fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		l.l.Warn("kafka broker: " + fmt.Sprintf(format, args...))
	}
}
