package kafka

import (
	"context"
	"fmt"
	"strconv"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// OpenWhisk's topic names (reference §3.11).
func invokerTopic(n int) string   { return "invoker" + strconv.Itoa(n) }
func completedTopic(n int) string { return "completed" + strconv.Itoa(n) }

const healthTopic = "health"

// retention of created topics, OpenWhisk's: an activation may wait for an
// invoker for two days; completions and pings are stale within the hour.
func retention(topic string) time.Duration {
	if len(topic) > 7 && topic[:7] == "invoker" {
		return 48 * time.Hour
	}
	return time.Hour
}

// ensure creates topic once per process when CreateTopics is set. A topic
// that already exists is fine.
func (b *Bus) ensure(ctx context.Context, topic string) error {
	if b.admin == nil {
		return nil
	}
	if _, ok := b.topics.Load(topic); ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rf := b.cfg.ReplicationFactor
	if rf == 0 {
		rf = -1 // the broker's default.replication.factor (KIP-464)
	}
	res, err := b.admin.CreateTopics(ctx, []ck.TopicSpecification{{
		Topic:             topic,
		NumPartitions:     1, // one partition keeps per-invoker order, as OpenWhisk
		ReplicationFactor: rf,
		Config:            map[string]string{"retention.ms": strconv.FormatInt(retention(topic).Milliseconds(), 10)},
	}}, ck.SetAdminOperationTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for _, r := range res {
		if c := r.Error.Code(); c != ck.ErrNoError && c != ck.ErrTopicAlreadyExists {
			return fmt.Errorf("create topic %s: %w", topic, r.Error)
		}
	}
	b.topics.Store(topic, struct{}{})
	return nil
}
