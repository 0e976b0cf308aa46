// Package bus carries activations from controllers to invokers and
// completions back. Implementations: memory (one process, the default of
// `stoke serve`) and kafka (a cluster).
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/stokehq/stoke/core/entity"
)

// Bus moves messages between controllers and invokers. Consume calls block
// until ctx ends, calling the handler for each message in order; a handler
// must not block for long (hand the work off).
type Bus interface {
	SendActivation(ctx context.Context, invoker int, m *ActivationMessage) error
	ConsumeActivations(ctx context.Context, invoker int, h func(*ActivationMessage)) error
	SendCompletion(ctx context.Context, controller int, c *Completion) error
	ConsumeCompletions(ctx context.Context, controller int, h func(*Completion)) error
	// SendPing and ConsumePings carry invoker health. Every consumer sees
	// every ping (a fan-out, unlike the other topics), so each controller
	// keeps its own view of the invokers.
	SendPing(ctx context.Context, p *Ping) error
	ConsumePings(ctx context.Context, h func(*Ping)) error
	Close() error
}

var (
	// ErrClosed is returned by sends after Close, and by consumers that
	// Close stopped.
	ErrClosed = errors.New("bus closed")
	// ErrTooLarge is wrapped by a send whose message is bigger than the bus
	// carries; the controller answers it with 413.
	ErrTooLarge = errors.New("message too large for the bus")
)

// ActivationMessage asks an invoker to run an action.
type ActivationMessage struct {
	ActivationID  string          `json:"activationId"`
	TransactionID string          `json:"transid"`
	Start         time.Time       `json:"start"` // when the controller accepted the call
	Namespace     string          `json:"namespace"`
	Name          string          `json:"name"`
	Version       string          `json:"version"`
	Revision      int64           `json:"revision"`
	User          entity.Identity `json:"user"`
	Blocking      bool            `json:"blocking"`
	// Content is the parameters: the action's defaults merged with the
	// request's, init parameters included. A JSON object or array.
	Content    json.RawMessage `json:"content,omitempty"`
	Controller int             `json:"rootControllerIndex"`
	// MemoryMB is the action's memory limit, which the balancer charges to
	// the chosen invoker. Zero: unknown (the balancer's default).
	MemoryMB int `json:"memoryMB,omitempty"`
	// Deadline is when the controller stops waiting and completes the
	// activation itself as a whisk error. An invoker that cannot finish
	// the action before it (a stale backlog) skips it. Zero: none.
	Deadline time.Time `json:"deadline,omitzero"`
}

// Completion tells a controller that an activation ended. For a blocking
// call it carries the activation record so the caller gets the result
// without reading the store.
type Completion struct {
	ActivationID  string             `json:"activationId"`
	TransactionID string             `json:"transid"`
	Invoker       int                `json:"invoker"`
	SystemError   bool               `json:"isSystemError"`
	Activation    *entity.Activation `json:"response,omitempty"`
}

// Ping is an invoker's heartbeat, OpenWhisk's PingMessage. Invokers send one
// every second; a controller that hears none for 10 s marks the invoker
// offline, and Enabled false takes it out of the rotation at once.
type Ping struct {
	Invoker  int       `json:"invoker"`
	MemoryMB int       `json:"memoryMB"`
	Enabled  bool      `json:"isEnabled"`
	Time     time.Time `json:"time"`
}
