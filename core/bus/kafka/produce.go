package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/stokehq/stoke/core/bus"
)

func (b *Bus) SendActivation(ctx context.Context, invoker int, m *bus.ActivationMessage) error {
	return b.send(ctx, invokerTopic(invoker), m, true)
}

func (b *Bus) SendCompletion(ctx context.Context, controller int, c *bus.Completion) error {
	return b.send(ctx, completedTopic(controller), c, true)
}

// SendPing does not wait for the broker: a lost ping is replaced by the next
// one a second later, and the heartbeat loop must not stall on a slow broker.
func (b *Bus) SendPing(ctx context.Context, p *bus.Ping) error {
	return b.send(ctx, healthTopic, p, false)
}

// send encodes v and produces it to topic. With wait it returns once the
// partition leader has the message (acks=1), which is what lets the
// controller answer 202 "accepted".
func (b *Bus) send(ctx context.Context, topic string, v any, wait bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("send to %s: encode: %w", topic, err)
	}
	if len(data) > b.cfg.MaxMessageBytes {
		return fmt.Errorf("send to %s: %d bytes, limit %d: %w", topic, len(data), b.cfg.MaxMessageBytes, bus.ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send to %s: %w", topic, err)
	}
	if err := b.ensure(ctx, topic); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	var report chan ck.Event // nil: the report goes to drainEvents
	if wait && !b.async {
		report = make(chan ck.Event, 1) // buffered: librdkafka's poller never blocks on an abandoned send
	}
	msg := &ck.Message{TopicPartition: ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny}, Value: data}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return bus.ErrClosed
	}
	err = b.p.Produce(msg, report)
	b.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("send to %s: %w", topic, mapErr(err))
	}
	if report == nil {
		return nil
	}
	select {
	case ev := <-report:
		if m, ok := ev.(*ck.Message); ok && m.TopicPartition.Error != nil {
			return fmt.Errorf("send to %s: %w", topic, mapErr(m.TopicPartition.Error))
		}
		return nil
	case <-ctx.Done():
		// The message may still be delivered; the caller must treat the
		// outcome as unknown.
		return fmt.Errorf("send to %s: delivery unconfirmed: %w", topic, ctx.Err())
	case <-b.done:
		return bus.ErrClosed
	}
}

// mapErr turns librdkafka's size errors into bus.ErrTooLarge.
func mapErr(err error) error {
	var ke ck.Error
	if errors.As(err, &ke) {
		switch ke.Code() {
		case ck.ErrMsgSizeTooLarge, ck.ErrRecordListTooLarge:
			return fmt.Errorf("%w: %w", bus.ErrTooLarge, err)
		}
	}
	return err
}
