package kafka

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/bus/kafka/broker"
	"github.com/stokehq/stoke/core/bus/memory"
)

// BenchmarkRoundTrip measures one message's trip from send to the
// consumer's handler (hop), and an invoke's two trips: activation to the
// invoker, completion back to the controller (invoke). It reports the
// median and p99 per trip besides the mean ns/op.
//
//	go test -run '^$' -bench RoundTrip -benchtime 2000x ./core/bus/kafka
func BenchmarkRoundTrip(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	buses := []struct {
		name string
		make func() bus.Bus
	}{
		{"memory", func() bus.Bus { return memory.New(1024) }},
		{"kafka", func() bus.Bus {
			k, err := New(Config{Brokers: br.Addr(), CreateTopics: true, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			return k
		}},
		{"kafka-nowait", func() bus.Bus {
			k, err := New(Config{Brokers: br.Addr(), CreateTopics: true, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			k.async = true
			return k
		}},
	}
	for i, bb := range buses {
		for _, invoke := range []bool{false, true} {
			name := bb.name + "/hop"
			if invoke {
				name = bb.name + "/invoke"
			}
			b.Run(name, func(b *testing.B) {
				bs := bb.make()
				defer bs.Close()
				roundTrip(b, bs, 10*i+boolInt(invoke), invoke)
			})
		}
	}
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// roundTrip sends one activation at a time to invoker n and waits for it
// (or for its completion, with invoke) before the next.
func roundTrip(b *testing.B, bs bus.Bus, n int, invoke bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 1)
	go bs.ConsumeActivations(ctx, n, func(m *bus.ActivationMessage) {
		if !invoke {
			got <- m.ActivationID
			return
		}
		// The invoker answers on its own goroutine, as the real one does.
		go bs.SendCompletion(ctx, n, &bus.Completion{ActivationID: m.ActivationID})
	})
	if invoke {
		go bs.ConsumeCompletions(ctx, n, func(c *bus.Completion) { got <- c.ActivationID })
	}
	trip := func(id string) time.Duration {
		start := time.Now()
		if err := bs.SendActivation(ctx, n, &bus.ActivationMessage{ActivationID: id, Namespace: "guest", Name: "hello"}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(15 * time.Second):
			b.Fatalf("%s never came back", id)
		}
		return time.Since(start)
	}
	trip("warm-up") // the first includes the consumer's group join
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		lat = append(lat, trip(fmt.Sprint(i)))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e3, "median-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e3, "p99-µs")
}

// BenchmarkSend measures what a send costs the caller: waiting for the
// broker's acknowledgement (the default for activations and completions)
// against handing the message to librdkafka only.
func BenchmarkSend(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	for _, async := range []bool{false, true} {
		name := "wait"
		if async {
			name = "nowait"
		}
		b.Run(name, func(b *testing.B) {
			k, err := New(Config{Brokers: br.Addr(), CreateTopics: true, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			k.async = async
			ctx := context.Background()
			m := &bus.ActivationMessage{ActivationID: "x", Namespace: "guest", Name: "hello"}
			if err := k.SendActivation(ctx, 0, m); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if err := k.SendActivation(ctx, 0, m); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2])/1e3, "median-µs")
		})
	}
}
