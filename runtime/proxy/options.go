package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Mode says how the proxy runs an action.
type Mode string

const (
	// ModeLoop keeps one child per sandbox and speaks ActionLoop to it.
	ModeLoop Mode = "actionloop"
	// ModeNative runs the action's executable once per /run (docker
	// skeleton semantics).
	ModeNative Mode = "native"
)

// Version is exported to actions as __OW_PROXY_VERSION.
const Version = "stoke-1"

// MaxBody caps /init and /run request bodies, as OpenWhisk's Node.js
// proxy does (48 MB).
const MaxBody = 48 << 20

// Options configure a Proxy. The zero value is an ActionLoop proxy that
// runs the action's own "exec" from ./action.
type Options struct {
	Mode Mode
	// Launcher is the ActionLoop child command for source actions, e.g.
	// ["/usr/bin/node", "/stoke/launcher.js"]. The proxy appends the action
	// directory, the main name and "file" or "archive". Empty means the
	// action itself is the child: an executable named "exec".
	Launcher []string
	// SourceFile is the name a plain-source or single-file action is saved
	// under in Dir ("index.js", "__main__.py"). Default "exec".
	SourceFile string
	// Dir receives the action's code and is the child's working directory.
	Dir string
	// Env is the proxy's own environment (os.Environ form). Its __OW_*
	// variables pass to the action.
	Env []string
	// WaitForAck makes the child confirm start-up with {"ok":true} on fd 3
	// (OW_WAIT_FOR_ACK).
	WaitForAck bool
	// Concurrent allows overlapping /run calls (__OW_ALLOW_CONCURRENT).
	Concurrent bool
	// Stdout and Stderr receive the action's logs and the sentinels. An
	// *os.File is handed to children as is; any other writer is fed through
	// a pipe so that child output and sentinels keep their order.
	Stdout, Stderr io.Writer
	// StartWait is how long a child without ack must survive to count as
	// started (OpenWhisk: 5 ms).
	StartWait time.Duration
	// Prestart starts the launcher when the proxy starts, so /init does not
	// wait for the interpreter (see prestart.go). It needs a Launcher that
	// speaks the prestart protocol, and WaitForAck.
	Prestart bool
}

// OptionsFromEnv reads the options a runtime image sets:
//
//	STOKE_PROXY_MODE    actionloop (default) or native
//	STOKE_LAUNCHER      launcher command: a JSON array, or words split on spaces
//	STOKE_SOURCE_FILE   file name for single-file actions
//	STOKE_ACTION_DIR    action directory (default /action)
//	OW_WAIT_FOR_ACK     any non-empty value requires the start-up ack
//	__OW_ALLOW_CONCURRENT  true allows overlapping /run calls
//	STOKE_PRESTART      1 (true, yes, on) starts the launcher before /init
func OptionsFromEnv(env []string) (Options, error) {
	get := func(k string) string { return lookup(env, k) }
	o := Options{
		Mode:       Mode(get("STOKE_PROXY_MODE")),
		SourceFile: get("STOKE_SOURCE_FILE"),
		Dir:        get("STOKE_ACTION_DIR"),
		Env:        env,
		WaitForAck: get("OW_WAIT_FOR_ACK") != "",
		Concurrent: truthy(get("__OW_ALLOW_CONCURRENT")),
		Prestart:   truthy(get("STOKE_PRESTART")),
	}
	if o.Dir == "" {
		o.Dir = "/action"
	}
	if l := strings.TrimSpace(get("STOKE_LAUNCHER")); l != "" {
		if strings.HasPrefix(l, "[") {
			if err := json.Unmarshal([]byte(l), &o.Launcher); err != nil {
				return o, fmt.Errorf("parse STOKE_LAUNCHER: %w", err)
			}
		} else {
			o.Launcher = strings.Fields(l)
		}
	}
	return o, o.check()
}

func (o *Options) check() error {
	switch o.Mode {
	case "":
		o.Mode = ModeLoop
	case ModeLoop, ModeNative:
	default:
		return fmt.Errorf("unknown proxy mode %q: want %q or %q", o.Mode, ModeLoop, ModeNative)
	}
	if o.Mode == ModeNative && len(o.Launcher) > 0 {
		return fmt.Errorf("native mode takes no launcher")
	}
	if o.SourceFile == "" {
		o.SourceFile = "exec"
	}
	if strings.ContainsAny(o.SourceFile, `/\`) {
		return fmt.Errorf("source file %q must be a plain file name", o.SourceFile)
	}
	if o.Dir == "" {
		o.Dir = "action"
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.StartWait == 0 {
		o.StartWait = 5 * time.Millisecond
	}
	return nil
}

func lookup(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val // the last one wins, as in the process environment
		}
	}
	return v
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}
