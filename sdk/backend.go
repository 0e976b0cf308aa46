package sdk

import (
	"context"
	"time"
)

// APIVersion is the semver version of the Backend contract. The go-plugin
// protocol version (see Handshake) guards the wire format; this one guards
// behaviour. A host accepts a plugin whose major version matches its own.
const APIVersion = "1.0.0"

// Backend manages sandboxes. Every method must be safe for concurrent use.
//
// Destroy, Pause and Resume on an unknown id return an error that wraps
// ErrNotFound. Destroy on a sandbox already destroyed is not an error.
type Backend interface {
	// Info describes the backend: its name, API version, the kinds it can
	// run and its capabilities. Hosts call it once after loading.
	Info(ctx context.Context) (*Info, error)

	// Create starts a sandbox that serves the action protocol and returns
	// once the sandbox accepts connections (or the ctx ends).
	Create(ctx context.Context, spec *Spec) (*Sandbox, error)

	// Pause freezes a sandbox (Capabilities.Pause); Resume thaws it.
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error

	// Destroy stops a sandbox and releases everything it holds.
	Destroy(ctx context.Context, id string) error

	// Logs streams the sandbox's stdout and stderr lines, sentinels
	// included, from the moment of the call until the sandbox is destroyed
	// or ctx ends. The invoker opens one stream per sandbox and frames
	// activations by the sentinel lines.
	Logs(ctx context.Context, id string) (LogStream, error)

	// List returns the sandboxes this backend knows of whose labels include
	// all of the given ones. The host uses it at start to find and remove
	// sandboxes left by a crashed host.
	List(ctx context.Context, labels map[string]string) ([]*Sandbox, error)
}

// Preparer is implemented by backends that can do per-code work ahead of
// time (Capabilities.Prepare), such as compiling a WebAssembly module when
// an action is stored, so that a first invocation only instantiates.
//
// code is exactly what /init's "code" field will carry (base64 text for a
// binary action), so a backend can key its work by it.
type Preparer interface {
	Prepare(ctx context.Context, kind string, code string) error
}

// Dialer is implemented by backends that run in the host's process and can
// hand out a direct connection to a sandbox's action protocol, skipping
// HTTP. The host uses it when present; otherwise it dials Sandbox.Endpoint.
type Dialer interface {
	Dial(sb *Sandbox) (Conn, error)
}

// Info describes a backend.
type Info struct {
	Name         string       `json:"name"`
	Version      string       `json:"version"`    // the plugin's own version
	APIVersion   string       `json:"apiVersion"` // the sdk.APIVersion it was built against
	Kinds        []string     `json:"kinds"`      // runtime kinds it can create sandboxes for
	Capabilities Capabilities `json:"capabilities"`
}

// Capabilities says which optional parts of the contract a backend offers.
// Hosts and the conformance suite skip what a backend does not declare.
type Capabilities struct {
	Pause       bool `json:"pause"`       // Pause and Resume work
	Prepare     bool `json:"prepare"`     // implements Preparer
	MemoryLimit bool `json:"memoryLimit"` // enforces Spec.MemoryMB
	Network     bool `json:"network"`     // honours Spec.Network
	Concurrent  bool `json:"concurrent"`  // a sandbox accepts overlapping /run calls
}

// Spec says what sandbox to create.
type Spec struct {
	// Name is a human-readable hint (for example "stoke0_12_guest_hello");
	// backends may use it in their own naming.
	Name string `json:"name"`
	// Kind is the runtime kind, for example "wasm" or "nodejs:20".
	Kind string `json:"kind"`
	// Image is the container image for container backends; empty means the
	// backend's image for Kind.
	Image string `json:"image,omitempty"`
	// MemoryMB is the memory limit in MiB.
	MemoryMB int `json:"memoryMB"`
	// Env is set in the sandbox's environment at start (__OW_API_HOST and
	// similar); per-activation variables travel in /init and /run.
	Env map[string]string `json:"env,omitempty"`
	// Network names the network to attach to; empty is the backend default.
	Network string `json:"network,omitempty"`
	// Labels are attached to the sandbox and returned by List.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are the action's string-valued annotations when the
	// sandbox is created for a known action (a cold start); empty for a
	// prewarmed stem cell. Backends read the ones they understand, for
	// example "wasm-mode" ("instance" or "loop").
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Sandbox is a created sandbox.
type Sandbox struct {
	ID string `json:"id"`
	// Endpoint is the base URL of the action protocol: the client posts to
	// Endpoint+"/init" and Endpoint+"/run". It is "http://host:port[/prefix]"
	// or "unix:///path/to/socket".
	Endpoint string            `json:"endpoint"`
	Kind     string            `json:"kind"`
	MemoryMB int               `json:"memoryMB"`
	Labels   map[string]string `json:"labels,omitempty"`
	// State is opaque to the host: the backend's own record of the sandbox,
	// kept so that a restarted plugin can recover it.
	State []byte `json:"state,omitempty"`
}

// LogLine is one line a sandbox wrote.
type LogLine struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	Text   string    `json:"text"`   // without the trailing newline
}

// OOMLine is the last stderr line of a LogStream whose sandbox was killed
// for exceeding its memory limit. Backends that can tell write it before
// the stream ends; the invoker reports it as the activation's error.
const OOMLine = "The action exhausted its memory and was aborted."

// LogStream yields a sandbox's log lines in order. Next blocks until a line
// is available and returns io.EOF once the sandbox is gone.
type LogStream interface {
	Next(ctx context.Context) (LogLine, error)
	Close() error
}
