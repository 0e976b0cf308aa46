package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/bus/kafka"
	"github.com/stokehq/stoke/core/bus/kafka/broker"
)

// consumeInto runs ConsumeActivations in the background into a channel.
func consumeInto(t *testing.T, b *kafka.Bus, invoker int) <-chan string {
	t.Helper()
	ch := make(chan string, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.ConsumeActivations(ctx, invoker, func(m *bus.ActivationMessage) { ch <- m.ActivationID })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func want(t *testing.T, ch <-chan string, id string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != id {
			t.Fatalf("got %s, want %s", got, id)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s", id)
	}
}

func send(t *testing.T, b *kafka.Bus, invoker int, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.SendActivation(ctx, invoker, &bus.ActivationMessage{ActivationID: id}); err != nil {
		t.Fatalf("send %s: %v", id, err)
	}
}

// TestBrokerRestart stops the broker under a running producer and consumer
// and starts a new one on the same address: both recover by themselves.
// With a data directory the new broker also has the old log and the group's
// offsets, so nothing is replayed; without one (the in-memory broker) the
// topics and offsets are gone and only new messages flow.
func TestBrokerRestart(t *testing.T) {
	for _, persist := range []bool{true, false} {
		name := "memory"
		if persist {
			name = "datadir"
		}
		t.Run(name, func(t *testing.T) {
			cfg := broker.Config{Listen: "127.0.0.1:0", Logger: testLogger()}
			if persist {
				cfg.DataDir = filepath.Join(t.TempDir(), "kafka")
			}
			br, err := broker.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Cleanups run last first: the broker outlives the bus, so the
			// consumer can leave its group on Close.
			t.Cleanup(func() { br.Close() })
			cfg.Listen = br.Addr()
			b := newBus(t, br.Addr(), true)
			got := consumeInto(t, b, 0)
			send(t, b, 0, "before")
			want(t, got, "before")
			time.Sleep(300 * time.Millisecond) // let the offset commit (every 200 ms)

			br.Close()
			time.Sleep(200 * time.Millisecond)
			if br, err = broker.Start(cfg); err != nil {
				t.Fatalf("restart on %s: %v", cfg.Listen, err)
			}

			start := time.Now()
			send(t, b, 0, "after")
			want(t, got, "after")
			t.Logf("recovered in %v", time.Since(start))
			select {
			case id := <-got:
				t.Fatalf("replayed %s after restart", id)
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}

// logBuffer is a slog handler target that tests can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestMalformed writes garbage to invoker0 with a plain producer: the
// consumer logs each bad message, skips it and goes on.
func TestMalformed(t *testing.T) {
	br := startBroker(t, "127.0.0.1:0")
	var logs logBuffer
	b, err := kafka.New(kafka.Config{Brokers: br.Addr(), CreateTopics: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	raw, err := ck.NewProducer(&ck.ConfigMap{"bootstrap.servers": br.Addr(), "linger.ms": 0, "enable.metrics.push": false})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	topic := "invoker0"
	bad := []string{"not json", `{"activationId":""}`, `{}`, `[1,2]`, `{"activationId":42}`, "", "\xff\xfe"}
	for _, v := range append(bad, `{"activationId":"good"}`) {
		if err := raw.Produce(&ck.Message{TopicPartition: ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny}, Value: []byte(v)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The topic does not exist yet: this also checks that librdkafka's
	// metadata request creates it on the embedded broker.
	for range len(bad) + 1 {
		select {
		case ev := <-raw.Events():
			if m, ok := ev.(*ck.Message); !ok || m.TopicPartition.Error != nil {
				t.Fatalf("raw produce: %v", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery report for the raw producer")
		}
	}
	got := consumeInto(t, b, 0)
	want(t, got, "good")
	send(t, b, 0, "next")
	want(t, got, "next")
	if n := strings.Count(logs.String(), "skipping unreadable message"); n != len(bad) {
		t.Fatalf("logged %d skipped messages, want %d:\n%s", n, len(bad), logs.String())
	}
}

func TestTooLarge(t *testing.T) {
	br := startBroker(t, "127.0.0.1:0")
	big := json.RawMessage(`"` + strings.Repeat("x", 1_500_000) + `"`)
	for _, tc := range []struct {
		name  string
		limit int
	}{
		{"client-limit", 0},         // our default 1,000,000 bytes
		{"broker-limit", 4_000_000}, // the broker's message.max.bytes (1,048,588)
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := kafka.New(kafka.Config{Brokers: br.Addr(), CreateTopics: true, MaxMessageBytes: tc.limit, Logger: testLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = b.SendActivation(ctx, 0, &bus.ActivationMessage{ActivationID: "big", Content: big})
			if !errors.Is(err, bus.ErrTooLarge) {
				t.Fatalf("got %v, want bus.ErrTooLarge", err)
			}
			if err := b.SendActivation(ctx, 0, &bus.ActivationMessage{ActivationID: "small"}); err != nil {
				t.Fatalf("small send after a large one: %v", err)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []kafka.Config{{}, {Brokers: "x:1", ReplicationFactor: -2}} {
		if b, err := kafka.New(cfg); err == nil {
			b.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	for _, listen := range []string{"nonsense", "127.0.0.1:99999", "127.0.0.1:port"} {
		if br, err := broker.Start(broker.Config{Listen: listen}); err == nil {
			br.Close()
			t.Errorf("Start(%q) succeeded", listen)
		}
	}
}

// rdkThreads counts librdkafka's threads in this process (named "rdk:...").
func rdkThreads(t *testing.T) int {
	tasks, err := filepath.Glob("/proc/self/task/*/comm")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range tasks {
		if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(string(b), "rdk:") {
			n++
		}
	}
	return n
}

// TestNoLeaks checks that Close ends every goroutine and librdkafka thread
// the bus started.
func TestNoLeaks(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc")
	}
	before := runtime.NumGoroutine()
	func() {
		br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer br.Close()
		b, err := kafka.New(kafka.Config{Brokers: br.Addr(), CreateTopics: true, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		done := make(chan error, 2)
		go func() {
			done <- b.ConsumeActivations(context.Background(), 0, func(m *bus.ActivationMessage) { got <- m.ActivationID })
		}()
		go func() { done <- b.ConsumePings(context.Background(), func(*bus.Ping) {}) }()
		send(t, b, 0, "x")
		<-got
		if rdkThreads(t) == 0 {
			t.Fatal("no librdkafka threads seen while running: the check is broken")
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		<-done
		<-done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, th := runtime.NumGoroutine(), rdkThreads(t)
		if g <= before && th == 0 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("after Close: %d goroutines (before %d), %d librdkafka threads\n%s", g, before, th, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
