package kafka

import (
	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// The settings below are chosen for latency: an activation is on the
// critical path of every invoke, twice (activation out, completion back).

// common settings of every client.
func (b *Bus) common(m ck.ConfigMap) *ck.ConfigMap {
	m["bootstrap.servers"] = b.cfg.Brokers
	m["client.id"] = b.cfg.ClientID
	// Nagle would hold a small request until the previous one is acked:
	// up to one RTT (or 40 ms of delayed ack) on every message.
	m["socket.nagle.disable"] = true
	// After a broker restart, reconnect within a second instead of backing
	// off to librdkafka's default 10 s.
	m["reconnect.backoff.ms"] = 50
	m["reconnect.backoff.max.ms"] = 1000
	// Our log channel, so librdkafka's lines reach slog instead of stderr.
	m["go.logs.channel.enable"] = true
	m["go.logs.channel"] = b.logs
	// KIP-714 client metrics push: requests we have no use for.
	m["enable.metrics.push"] = false
	// Idle connections are closed by brokers routinely; not worth a line.
	m["log.connection.close"] = false
	return &m
}

func (b *Bus) producerConfig() *ck.ConfigMap {
	return b.common(ck.ConfigMap{
		// Leader-only acknowledgement, as OpenWhisk: the message is in the
		// leader's log when the send returns, without waiting for the
		// followers' round trip (acks=all would add it to every invoke).
		"acks": 1,
		// Idempotence needs acks=all; a duplicate from a retry is dropped
		// by the consumers' de-duplication instead.
		"enable.idempotence": false,
		// Send at once. librdkafka's default linger is 5 ms, which would be
		// added to every activation; under load messages still batch
		// naturally while a request is in flight.
		"linger.ms": 0,
		// Messages are small JSON; compression costs CPU on the path and
		// saves little.
		"compression.type": "none",
		// Batches only form under load; keep them moderate so one batch
		// does not delay the head of the queue.
		"batch.num.messages": 1000,
		"message.max.bytes":  b.cfg.MaxMessageBytes + 4096,
		// A send that cannot reach a broker fails within 30 s instead of
		// librdkafka's 5 min, so a caller is not left hanging while the
		// message might still be delivered much later.
		"message.timeout.ms": 30000,
		"retry.backoff.ms":   20,
		// Delivery reports carry only the outcome: copying the value back
		// into Go would be wasted work.
		"go.delivery.reports":       true,
		"go.delivery.report.fields": "none",
	})
}

// consumerConfig is for a consumer in group; latest starts a new group at
// the end of the topic (health) instead of its beginning.
func (b *Bus) consumerConfig(group string, latest bool) *ck.ConfigMap {
	reset := "earliest"
	if latest {
		reset = "latest"
	}
	return b.common(ck.ConfigMap{
		"group.id": group,
		// A new group reads the backlog: activations sent before the
		// invoker's first start still run (OpenWhisk's setting).
		"auto.offset.reset": reset,
		// At least once: the offset is stored only after the handler
		// returned (StoreMessage), and committed in the background every
		// 200 ms and on Close. A short interval keeps the redelivery after a
		// crash small; commits are cheap.
		"enable.auto.commit":       !latest,
		"enable.auto.offset.store": false,
		"auto.commit.interval.ms":  200,
		// The broker answers a fetch as soon as one byte is there; the
		// wait bound only matters when a broker does not wake the fetch
		// early, and then 10 ms bounds the delay for ~100 idle fetches/s.
		"fetch.min.bytes":        1,
		"fetch.wait.max.ms":      10,
		"fetch.error.backoff.ms": 50,
		// Fast failover: a crashed invoker's partition moves after 6 s
		// (the smallest session a stock broker accepts,
		// group.min.session.timeout.ms) rather than the default 45 s.
		"session.timeout.ms":    6000,
		"heartbeat.interval.ms": 1000,
		// No transactions on these topics: skip the wait for the stable
		// offset.
		"isolation.level": "read_uncommitted",
		// Each consumer owns one topic of one partition; bound its prefetch
		// to something modest instead of 64 MB.
		"queued.max.messages.kbytes": 16384,
		"enable.partition.eof":       false,
	})
}
