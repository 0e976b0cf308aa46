// Command testproxy is a tiny action proxy for the runc backend's tests. It
// serves /init and /run on the unix socket named by $STOKE_PROXY_SOCKET and
// writes the log sentinel to stdout and stderr after every /run.
//
// The /run value picks a mode:
//
//	{"mode":"echo", ...}              reply with the value (the default)
//	{"mode":"oom"}                    allocate memory until killed
//	{"mode":"spawn","n":2000}         fork n sleeping children, report how many
//	{"mode":"dial","addr":"h:p"}      try a TCP connection, report the outcome
//	{"mode":"env"}                    reply with the environment
//	{"mode":"write","path":"/x"}      try to create a file, report the outcome
//
// It uses the standard library only and is built with CGO_ENABLED=0, so it
// runs alone in an otherwise empty root filesystem.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

const sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

func main() {
	path := os.Getenv("STOKE_PROXY_SOCKET")
	if path == "" {
		fmt.Fprintln(os.Stderr, "testproxy: STOKE_PROXY_SOCKET not set")
		os.Exit(2)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testproxy:", err)
		os.Exit(2)
	}
	fmt.Println("testproxy listening")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("POST /run", run)
	http.Serve(l, mux)
}

type request struct {
	Value struct {
		Mode string `json:"mode"`
		N    int    `json:"n"`
		Addr string `json:"addr"`
		Path string `json:"path"`
	} `json:"value"`
}

func run(w http.ResponseWriter, r *http.Request) {
	defer func() {
		fmt.Println(sentinel)
		fmt.Fprintln(os.Stderr, sentinel)
	}()
	var raw struct {
		Value json.RawMessage `json:"value"`
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
		return
	}
	json.Unmarshal(raw.Value, &req.Value)
	fmt.Printf("run %s\n", raw.Value)
	fmt.Fprintln(os.Stderr, "stderr line")
	var out any
	switch req.Value.Mode {
	case "", "echo":
		out = raw.Value
	case "oom":
		fmt.Println("allocating")
		var keep [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
		}
	case "spawn":
		out = spawn(req.Value.N)
	case "dial":
		c, err := net.DialTimeout("tcp", req.Value.Addr, 2*time.Second)
		if err == nil {
			c.Close()
			out = map[string]any{"connected": true}
		} else {
			out = map[string]any{"connected": false, "error": err.Error()}
		}
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		out = env
	case "write":
		err := os.WriteFile(req.Value.Path, []byte("x"), 0o644)
		if err == nil {
			out = map[string]any{"written": true}
		} else {
			out = map[string]any{"written": false, "error": err.Error()}
		}
	default:
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":"unknown mode %q"}`, req.Value.Mode)
		return
	}
	json.NewEncoder(w).Encode(out)
}

// spawn forks n children that only wait for a signal. A raw fork copies
// nothing but page tables, so the pids limit, not memory, is what stops it.
// The children never touch the Go runtime: they loop on pause(2) until the
// sandbox is destroyed.
func spawn(n int) map[string]any {
	started := 0
	var ferr error
	for started < n {
		pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
		if errno != 0 {
			ferr = errno
			break
		}
		if pid == 0 {
			for {
				syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
			}
		}
		started++
	}
	out := map[string]any{"started": started}
	if ferr != nil {
		out["error"] = ferr.Error()
	}
	return out
}
