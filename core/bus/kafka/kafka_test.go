package kafka_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/bus/bustest"
	"github.com/stokehq/stoke/core/bus/kafka"
	"github.com/stokehq/stoke/core/bus/kafka/broker"
)

func testLogger() *slog.Logger {
	if os.Getenv("STOKE_KAFKA_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startBroker starts an embedded broker for the test.
func startBroker(t testing.TB, listen string) *broker.Broker {
	t.Helper()
	br, err := broker.Start(broker.Config{Listen: listen, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

func newBus(t testing.TB, addr string, create bool) *kafka.Bus {
	t.Helper()
	b, err := kafka.New(kafka.Config{Brokers: addr, ClientID: "test", CreateTopics: create, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestBus(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus {
		return newBus(t, startBroker(t, "127.0.0.1:0").Addr(), true)
	})
}
