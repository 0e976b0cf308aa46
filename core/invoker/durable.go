package invoker

import (
	"sync"
	"time"

	"github.com/stokehq/stoke/core/entity"
)

// A non-blocking activation's completion is sent only once its record is
// in the store: nobody waits for that completion, and sending it earlier
// would let a crash between the two lose the record while the controller
// believes the activation done (OpenWhisk, too, acks after storing). A
// blocking caller gets its result at once, as before.

// lookuper is a Recorder that can tell whether a record is still queued
// (core/record.Writer).
type lookuper interface {
	Lookup(namespace, id string) (*entity.Activation, bool)
}

// durable wraps the Recorder: Write queues the record, then sends the
// completion held for it once the record has left the queue.
type durable struct {
	Recorder
	look lookuper

	mu   sync.Mutex
	held map[string]func() // by activation id: send the completion
}

// withDurableCompletions wraps r when it can report stored records;
// otherwise completions are sent at once, as before.
func withDurableCompletions(r Recorder) Recorder {
	l, ok := r.(lookuper)
	if !ok {
		return r
	}
	return &durable{Recorder: r, look: l, held: map[string]func(){}}
}

// hold keeps send until the record of id is stored; false if r cannot.
func hold(r Recorder, id string, send func()) bool {
	d, ok := r.(*durable)
	if !ok {
		return false
	}
	d.mu.Lock()
	d.held[id] = send
	d.mu.Unlock()
	return true
}

func (d *durable) Write(a *entity.Activation) {
	d.Recorder.Write(a)
	d.mu.Lock()
	send, ok := d.held[a.ActivationID]
	delete(d.held, a.ActivationID)
	d.mu.Unlock()
	if !ok {
		return
	}
	go func() {
		// The writer stores a batch every 10 ms; give up waiting (and
		// send anyway) if the store is down for long.
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if _, queued := d.look.Lookup(a.Namespace, a.ActivationID); !queued {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		send()
	}()
}
