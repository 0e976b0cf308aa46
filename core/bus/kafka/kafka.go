// Package kafka is the bus of a Stoke cluster: controllers and invokers in
// separate processes exchange JSON messages over Kafka through
// confluent-kafka-go (librdkafka), on OpenWhisk's topics:
//
//	invoker<N>    activations for invoker N, consumed by group "invoker<N>"
//	completed<C>  completions for controller C, consumed by group "completed<C>"
//	health        invoker pings, each consumer in a group of its own so every
//	              controller sees every ping
//
// Delivery is at least once. A consumer stores a message's offset only after
// its handler returned, and librdkafka commits stored offsets in the
// background and on Close; a crash between the handler and the commit
// redelivers the message to the next consumer of the group. Within one
// consumer a bounded set of recent activation ids (bus.Dedup, 4096 ids)
// drops redeliveries, so a handler sees an activation or completion once.
//
// Sends of activations and completions wait for the broker's acknowledgement
// (acks=1), so "accepted" means the message is in the leader's log; pings do
// not wait. Every setting that bears on latency is in config.go with its
// reason.
package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/stokehq/stoke/core/bus"
)

// Config says how to reach Kafka.
type Config struct {
	// Brokers is the bootstrap list, "host:port[,host:port...]".
	Brokers string
	// ClientID names this process to the brokers (client.id) and prefixes
	// its health consumer groups. Default "stoke-<hostname>-<pid>".
	ClientID string
	// CreateTopics creates each topic (one partition, OpenWhisk's retention)
	// before its first use. Leave it off where operators manage topics.
	CreateTopics bool
	// ReplicationFactor of created topics; 0 takes the broker's default.
	ReplicationFactor int
	// MaxMessageBytes bounds an encoded message; a larger send fails with
	// bus.ErrTooLarge before it reaches Kafka. Default 1,000,000, under the
	// broker's default message.max.bytes (1,048,588).
	MaxMessageBytes int
	Logger          *slog.Logger
}

// Bus is a bus.Bus over Kafka. It is safe for concurrent use.
type Bus struct {
	cfg   Config
	log   *slog.Logger
	p     *ck.Producer
	admin *ck.AdminClient
	logs  chan ck.LogEvent

	// async skips waiting for delivery reports on every send; benchmarks
	// flip it to measure what waiting costs.
	async bool

	topics sync.Map // topic name -> struct{}: created (or known to exist)

	mu     sync.RWMutex // guards closed against sends and new consumers
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup // running consumers
	bg     sync.WaitGroup // event and log drains
}

var _ bus.Bus = (*Bus)(nil)

// New connects a producer; consumers are made by the Consume calls.
// librdkafka connects lazily, so New succeeds while the brokers are down and
// sends wait (bounded by message.timeout.ms) until they are up.
func New(cfg Config) (*Bus, error) {
	if cfg.Brokers == "" {
		return nil, errors.New("kafka bus: no brokers")
	}
	if cfg.ClientID == "" {
		host, _ := os.Hostname()
		cfg.ClientID = fmt.Sprintf("stoke-%s-%d", host, os.Getpid())
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 1_000_000
	}
	if cfg.ReplicationFactor < 0 {
		return nil, fmt.Errorf("kafka bus: replication factor %d", cfg.ReplicationFactor)
	}
	b := &Bus{cfg: cfg, log: cfg.Logger, done: make(chan struct{}), logs: make(chan ck.LogEvent, 1024)}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.bg.Add(1)
	go b.drainLogs()
	p, err := ck.NewProducer(b.producerConfig())
	if err != nil {
		close(b.logs)
		b.bg.Wait()
		return nil, fmt.Errorf("kafka bus: producer: %w", err)
	}
	b.p = p
	if cfg.CreateTopics {
		if b.admin, err = ck.NewAdminClientFromProducer(p); err != nil {
			p.Close()
			close(b.logs)
			b.bg.Wait()
			return nil, fmt.Errorf("kafka bus: admin client: %w", err)
		}
	}
	b.bg.Add(1)
	go b.drainEvents()
	return b, nil
}

// closeTimeout bounds how long Close waits for queued messages to reach
// the broker.
const closeTimeout = 5 * time.Second

// Close stops the consumers (each commits what it handled and leaves its
// group), delivers what the producer still holds (at most 5 s) and frees
// librdkafka's threads. Sends after Close fail with bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.done)
	b.mu.Unlock()

	b.wg.Wait()
	left := b.p.Flush(int(closeTimeout / time.Millisecond))
	if b.admin != nil {
		b.admin.Close()
	}
	b.p.Close() // closes Events, which ends drainEvents
	close(b.logs)
	b.bg.Wait()
	if left > 0 {
		return fmt.Errorf("kafka bus: close: %d messages not delivered", left)
	}
	return nil
}

// drainEvents reads the producer's events: delivery reports of sends that
// do not wait (pings), and client-level errors. Nothing on the send path
// waits for this goroutine.
func (b *Bus) drainEvents() {
	defer b.bg.Done()
	for ev := range b.p.Events() {
		switch e := ev.(type) {
		case *ck.Message:
			if err := e.TopicPartition.Error; err != nil {
				b.log.Warn("kafka bus: delivery failed", "topic", topicName(e), "err", err)
			}
		case ck.Error:
			b.log.Warn("kafka bus: producer", "err", e)
		}
	}
}

// drainLogs forwards librdkafka's log lines (all clients of this bus share
// one channel) to slog.
func (b *Bus) drainLogs() {
	defer b.bg.Done()
	for e := range b.logs {
		// syslog levels: 3 error, 4 warning, 5 notice, 6 info, 7 debug.
		level := slog.LevelDebug
		switch {
		case e.Level <= 3:
			level = slog.LevelError
		case e.Level == 4:
			level = slog.LevelWarn
		case e.Level == 5:
			level = slog.LevelInfo
		}
		b.log.Log(nil, level, "kafka: "+e.Message, "client", e.Name, "tag", e.Tag)
	}
}

func topicName(m *ck.Message) string {
	if m.TopicPartition.Topic == nil {
		return ""
	}
	return *m.TopicPartition.Topic
}
