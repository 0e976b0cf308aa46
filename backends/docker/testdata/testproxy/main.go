// Command testproxy is a tiny action proxy for the docker backend's tests,
// built static and imported as a FROM-scratch image. It serves /init and
// /run on :8080 and, when STOKE_PROXY_SOCKET is set, on that unix socket.
//
// /run reads {"value": {...}} and acts on value.mode:
//
//	""      echo the value; value.log lines go to stdout and stderr
//	"oom"   allocate and touch memory until the kernel kills the process
//	"spawn" start value.n copies of itself sleeping, report how many
//	        started before the first failure, then kill them
//
// After every /run it writes the activation sentinel to stdout and stderr.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"
)

const sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		time.Sleep(time.Hour)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		reply(w, 200, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST /run", run)
	if path := os.Getenv("STOKE_PROXY_SOCKET"); path != "" {
		os.Remove(path)
		l, err := net.Listen("unix", path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testproxy:", err)
			os.Exit(1)
		}
		go http.Serve(l, mux)
	}
	if err := http.ListenAndServe(":8080", mux); err != nil {
		fmt.Fprintln(os.Stderr, "testproxy:", err)
		os.Exit(1)
	}
}

func run(w http.ResponseWriter, r *http.Request) {
	defer func() {
		fmt.Fprintln(os.Stdout, sentinel)
		fmt.Fprintln(os.Stderr, sentinel)
	}()
	var body struct {
		Value struct {
			Mode string   `json:"mode"`
			Log  []string `json:"log"`
			N    int      `json:"n"`
		} `json:"value"`
	}
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		reply(w, 400, map[string]any{"error": err.Error()})
		return
	}
	v := body.Value
	switch v.Mode {
	case "":
		for _, l := range v.Log {
			fmt.Fprintln(os.Stdout, l)
			fmt.Fprintln(os.Stderr, l)
		}
		var echo struct {
			Value json.RawMessage `json:"value"`
		}
		json.Unmarshal(raw, &echo)
		w.Header().Set("Content-Type", "application/json")
		w.Write(echo.Value)
	case "oom":
		var hold [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = byte(i)
			}
			hold = append(hold, b)
		}
	case "spawn":
		var cmds []*exec.Cmd
		var failure string
		for i := 0; i < v.N; i++ {
			c := exec.Command("/proxy", "sleep")
			if err := c.Start(); err != nil {
				failure = err.Error()
				break
			}
			cmds = append(cmds, c)
		}
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		reply(w, 200, map[string]any{"spawned": len(cmds), "failure": failure})
	default:
		reply(w, 400, map[string]any{"error": "unknown mode " + v.Mode})
	}
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
