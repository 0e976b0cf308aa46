package invoker

import (
	"sync"

	"github.com/stokehq/stoke/core/entity"
)

// A non-blocking activation's completion is sent only once its record is
// in the store: nobody waits for that completion, and sending it earlier
// would let a crash between the two lose the record while the controller
// believes the activation done (OpenWhisk, too, acks after storing). A
// blocking caller gets its result at once, as before.

// thener is a Recorder that says when a record is stored
// (core/record.Writer).
type thener interface {
	WriteThen(a *entity.Activation, stored func())
}

// durable wraps the Recorder: Write queues the record with the completion
// held for it, which the recorder sends once the record is stored.
type durable struct {
	Recorder
	then thener

	mu   sync.Mutex
	held map[string]func() // by activation id: send the completion
}

// withDurableCompletions wraps r when it can report stored records;
// otherwise completions are sent at once, as before.
func withDurableCompletions(r Recorder) Recorder {
	t, ok := r.(thener)
	if !ok {
		return r
	}
	return &durable{Recorder: r, then: t, held: map[string]func(){}}
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
	d.mu.Lock()
	send, ok := d.held[a.ActivationID]
	delete(d.held, a.ActivationID)
	d.mu.Unlock()
	if !ok {
		d.Recorder.Write(a)
		return
	}
	// The recorder calls back on its own goroutine, which must not block:
	// the send (a bus round trip) goes to its own.
	d.then.WriteThen(a, func() { go send() })
}
