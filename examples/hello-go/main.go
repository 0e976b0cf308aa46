// Command hello-go is an example Stoke wasm action in plain Go. Build it
// with GOOS=wasip1 GOARCH=wasm; it also builds and runs natively.
//
// It speaks "ActionLoop over WASI stdio": it reads one /run envelope per
// line from stdin until EOF, answers each with one JSON line on stdout and
// logs on stderr. So the same binary works one-shot (a fresh instance per
// activation: one line, then EOF) and in loop mode (one warm instance).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := serve(os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hello-go:", err)
		os.Exit(1)
	}
}

// serve answers every envelope line of in on out.
func serve(in io.Reader, out, logs io.Writer) error {
	sc := bufio.NewScanner(in)
	// /run bodies can exceed 1 MB; the default token limit is 64 KiB.
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	w := bufio.NewWriter(out)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		res := handle(sc.Bytes(), logs)
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
		// Flush per line: the host waits for this line to answer.
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

// envelope is the part of a /run body this action reads.
type envelope struct {
	Value        json.RawMessage `json:"value"`
	ActivationID string          `json:"activation_id"`
}

// handle turns one envelope line into the action's result.
func handle(line []byte, logs io.Writer) map[string]string {
	var env envelope
	if err := json.Unmarshal(line, &env); err != nil {
		return map[string]string{"error": "invalid envelope: " + err.Error()}
	}
	var params struct {
		Name *string `json:"name"`
	}
	if len(env.Value) > 0 && string(env.Value) != "null" {
		if err := json.Unmarshal(env.Value, &params); err != nil {
			return map[string]string{"error": "invalid input: value must be an object with a string name"}
		}
	}
	name := "stranger"
	if params.Name != nil && *params.Name != "" {
		name = *params.Name
	}
	fmt.Fprintf(logs, "hello-go: greeting %s (activation %s)\n", name, env.ActivationID)
	return map[string]string{"greeting": "Hello, " + name + "!"}
}
