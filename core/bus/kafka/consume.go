package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/stokehq/stoke/core/bus"
)

func (b *Bus) ConsumeActivations(ctx context.Context, invoker int, h func(*bus.ActivationMessage)) error {
	t := invokerTopic(invoker)
	return b.consume(ctx, t, t, false, decodeDedup(func(m *bus.ActivationMessage) string { return m.ActivationID }, h))
}

func (b *Bus) ConsumeCompletions(ctx context.Context, controller int, h func(*bus.Completion)) error {
	t := completedTopic(controller)
	return b.consume(ctx, t, t, false, decodeDedup(func(c *bus.Completion) string { return c.ActivationID }, h))
}

// ConsumePings reads the health topic in a consumer group of its own,
// starting at its end: every consumer sees every new ping, and a restarted
// controller does not replay old ones as if they were fresh.
func (b *Bus) ConsumePings(ctx context.Context, h func(*bus.Ping)) error {
	var r [6]byte
	rand.Read(r[:])
	group := fmt.Sprintf("health-%s-%s", b.cfg.ClientID, hex.EncodeToString(r[:]))
	return b.consume(ctx, healthTopic, group, true, func(data []byte) error {
		var p bus.Ping
		if err := json.Unmarshal(data, &p); err != nil {
			return err
		}
		if p.Invoker < 0 || p.Time.IsZero() {
			return errors.New("not a ping")
		}
		h(&p)
		return nil
	})
}

// decodeDedup decodes a message of type T, rejects one without an id and
// drops one whose id this consumer handled recently.
func decodeDedup[T any](id func(*T) string, h func(*T)) func([]byte) error {
	seen := bus.NewDedup(0)
	return func(data []byte) error {
		v := new(T)
		if err := json.Unmarshal(data, v); err != nil {
			return err
		}
		key := id(v)
		if key == "" {
			return errors.New("no activationId")
		}
		if !seen.Seen(key) {
			h(v)
		}
		return nil
	}
}

// pollMs bounds how long a consumer takes to notice ctx or Close. A
// message wakes Poll at once, so it costs no latency.
const pollMs = 100

// consume runs a consumer of topic in group until ctx ends or the bus is
// closed. handle returns an error for a message it cannot read; that
// message is logged and skipped (and committed), never retried.
func (b *Bus) consume(ctx context.Context, topic, group string, latest bool, handle func([]byte) error) error {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return bus.ErrClosed
	}
	b.wg.Add(1)
	b.mu.RUnlock()
	defer b.wg.Done()

	if err := b.ensure(ctx, topic); err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	c, err := ck.NewConsumer(b.consumerConfig(group, latest))
	if err != nil {
		return fmt.Errorf("consume %s: %w", topic, err)
	}
	// Close commits the stored offsets and leaves the group, so the next
	// member takes over at once instead of after the session timeout.
	defer func() {
		if err := c.Close(); err != nil {
			b.log.Warn("kafka bus: close consumer", "topic", topic, "err", err)
		}
	}()
	if err := c.Subscribe(topic, nil); err != nil {
		return fmt.Errorf("consume %s: subscribe: %w", topic, err)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return bus.ErrClosed
		default:
		}
		switch e := c.Poll(pollMs).(type) {
		case *ck.Message:
			if e.TopicPartition.Error != nil {
				b.log.Warn("kafka bus: consume", "topic", topic, "err", e.TopicPartition.Error)
				continue
			}
			if err := handle(e.Value); err != nil {
				b.log.Warn("kafka bus: skipping unreadable message", "topic", topic,
					"partition", e.TopicPartition.Partition, "offset", e.TopicPartition.Offset, "err", err)
			}
			if !latest {
				if _, err := c.StoreMessage(e); err != nil {
					b.log.Warn("kafka bus: store offset", "topic", topic, "err", err)
				}
			}
		case ck.Error:
			if e.IsFatal() {
				return fmt.Errorf("consume %s: %w", topic, e)
			}
			b.log.Warn("kafka bus: consumer", "topic", topic, "err", e)
		}
	}
}
