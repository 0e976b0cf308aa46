package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/runtime/proxy"
)

// echoLoop is an ActionLoop child that logs on both streams and returns
// the whole request line.
const echoLoop = `#!/bin/sh
while read line; do
  echo "hello stdout"
  echo "hello stderr" >&2
  echo "$line" >&3
done
`

func TestInitFailures(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		want   string // exact body, or a prefix ending in "…"
	}{
		{"no content", `{}`, 403, `{"error":"Missing main/no code to execute."}`},
		{"empty code", `{"value":{"code":"","main":""}}`, 403, `{"error":"Missing main/no code to execute."}`},
		{"null code", `{"value":{"code":null}}`, 403, `{"error":"Missing main/no code to execute."}`},
		{"not json", `{"value":`, 400, `{"error":"Error unmarshaling request: …`},
		{"bad base64", `{"value":{"code":"not*base64!","binary":true}}`, 400, `{"error":"cannot decode the request: …`},
		{"not executable", `{"value":{"code":"hi"}}`, 502, `{"error":"cannot start action: command exited"}`},
		{"exits at start", `{"value":{"code":"#!/bin/sh\nexit 3\n"}}`, 502, `{"error":"cannot start action: command exited"}`},
		{"zip slip", `{"value":{"binary":true,"code":"` + b64(zipOf(t, file{"../evil", "x", 0o755})) + `"}}`, 502, `{"error":"archive entry \"../evil\" escapes…`},
		{"zip without exec", `{"value":{"binary":true,"code":"` + b64(zipOf(t, file{"other", "x", 0o644})) + `"}}`, 502, `{"error":"cannot start action: command exited"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, proxy.Options{StartWait: 50 * time.Millisecond})
			st, body := h.post("/init", tt.body)
			if st != tt.status || !matches(body, tt.want) {
				t.Fatalf("init = %d %s, want %d %s", st, body, tt.status, tt.want)
			}
			h.sentinels(1) // a failed init ends its logs
			if st, body := h.run(map[string]any{}, nil); st != 500 || body != `{"error":"no action defined yet"}` {
				t.Errorf("run after failed init = %d %s", st, body)
			}
		})
	}
}

func matches(got, want string) bool {
	if p, ok := strings.CutSuffix(want, "…"); ok {
		return strings.HasPrefix(got, p)
	}
	return got == want
}

func TestRunBeforeInit(t *testing.T) {
	h := newHarness(t, proxy.Options{})
	st, body := h.run(map[string]any{}, nil)
	if st != 500 || body != `{"error":"no action defined yet"}` {
		t.Fatalf("run = %d %s", st, body)
	}
}

func TestInitTwice(t *testing.T) {
	h := newHarness(t, proxy.Options{})
	h.mustInit(echoLoop, "main", false, nil)
	st, body := h.init(echoLoop, "main", false, nil)
	if st != 403 || body != `{"error":"Cannot initialize the action more than once."}` {
		t.Fatalf("second init = %d %s", st, body)
	}
	if !strings.Contains(h.stderr(), "Cannot initialize the action more than once.") {
		t.Errorf("stderr lacks the message: %q", h.stderr())
	}
	h.sentinels(0)
}

func TestEchoAndSentinels(t *testing.T) {
	h := newHarness(t, proxy.Options{})
	h.mustInit(echoLoop, "niam", false, nil)
	h.sentinels(0)
	payloads := []any{
		map[string]any{"string": "hello"},
		map[string]any{"string": "❄ ☃ ❄"},
		map[string]any{"numbers": []int{42, 1}},
		map[string]any{"object": map[string]string{"a": "A"}},
		[]any{"a", "b"},
	}
	for _, v := range payloads {
		st, body := h.post("/run", map[string]any{"value": v})
		var got struct{ Value any }
		if err := json.Unmarshal([]byte(body), &got); st != 200 || err != nil {
			t.Fatalf("run = %d %s (%v)", st, body, err)
		}
		want, _ := json.Marshal(v)
		if g, _ := json.Marshal(got.Value); string(g) != string(want) {
			t.Errorf("echo = %s, want %s", g, want)
		}
	}
	h.sentinels(len(payloads))
	// The child's logs come before each sentinel.
	if !strings.HasPrefix(h.stdout(), "hello stdout\n"+proxy.Sentinel+"\nhello stdout\n") {
		t.Errorf("stdout order:\n%s", h.stdout())
	}
}

func TestRunResults(t *testing.T) {
	tests := []struct {
		name   string
		child  string
		status int
		want   string
	}{
		{"object", `read l; echo '{"a":1}' >&3; sleep 5`, 200, `{"a":1}`},
		{"array", `read l; echo '["a","b"]' >&3; sleep 5`, 200, `["a","b"]`},
		{"application error", `read l; echo '{"error":"sorry"}' >&3; sleep 5`, 200, `{"error":"sorry"}`},
		{"string", `read l; echo '"not json"' >&3; sleep 5`, 502, `{"error":"The action did not return a dictionary or array."}`},
		{"garbage", `read l; echo 'nope' >&3; sleep 5`, 502, `{"error":"The action did not return a dictionary or array."}`},
		{"exits mid-request", `read l; exit 1`, 400, `{"error":"command exited"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, proxy.Options{})
			h.mustInit("#!/bin/sh\n"+tt.child+"\n", "main", false, nil)
			st, body := h.run(map[string]any{}, nil)
			if st != tt.status || body != tt.want {
				t.Fatalf("run = %d %s, want %d %s", st, body, tt.status, tt.want)
			}
			h.sentinels(1)
		})
	}
}

func TestChildExitDropsAction(t *testing.T) {
	h := newHarness(t, proxy.Options{})
	h.mustInit("#!/bin/sh\nread l\nexit 1\n", "main", false, nil)
	if st, body := h.run(map[string]any{}, nil); st != 400 || body != `{"error":"command exited"}` {
		t.Fatalf("first run = %d %s", st, body)
	}
	if st, body := h.run(map[string]any{}, nil); st != 500 || body != `{"error":"no action defined yet"}` {
		t.Fatalf("second run = %d %s", st, body)
	}
	h.sentinels(2)
}

func TestAck(t *testing.T) {
	tests := []struct {
		name   string
		child  string
		status int
		want   string
		log    string
	}{
		{"ok", `echo '{"ok":true}' >&3; ` + `while read l; do echo '{"acked":true}' >&3; done`, 200, `{"ok":true}`, ""},
		{"exit before ack", `exit 1`, 502, `{"error":"Cannot start action. Check logs for details."}`, "Command exited abruptly during initialization."},
		{"empty ack", `echo '{}' >&3; sleep 5`, 502, `{"error":"The action did not initialize properly."}`, ""},
		{"bad ack", `echo 'bad ack' >&3; sleep 5`, 502, `{"error":"cannot start action: bad ack: …`, ""},
		{"load error", `echo '{"error":"SyntaxError: x"}' >&3; sleep 5`, 502, `{"error":"SyntaxError: x"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, proxy.Options{WaitForAck: true})
			st, body := h.init("#!/bin/sh\n"+tt.child+"\n", "main", false, nil)
			if st != tt.status || !matches(body, tt.want) {
				t.Fatalf("init = %d %s, want %d %s", st, body, tt.status, tt.want)
			}
			if !strings.Contains(h.stderr(), tt.log) {
				t.Errorf("stderr %q lacks %q", h.stderr(), tt.log)
			}
			if st == 200 {
				if st, body := h.run(map[string]any{}, nil); st != 200 || body != `{"acked":true}` {
					t.Errorf("run = %d %s", st, body)
				}
			}
		})
	}
}

// The child's environment is exactly the proxy's __OW_* variables, its
// markers and the init env: nothing else leaks in (not even PATH).
func TestChildEnv(t *testing.T) {
	h := newHarness(t, proxy.Options{
		WaitForAck: true,
		Env:        []string{"__OW_API_HOST=xyz", "SECRET=no", "PATH=/bin", "OW_EXECUTION_ENV=ex1"},
	})
	child := "#!/bin/sh\n/usr/bin/env > env.txt\necho '{\"ok\":true}' >&3\nsleep 5\n"
	h.mustInit(child, "main", false, map[string]string{"SOME_VAR": "xyz", "ANOTHER_VAR": "", "__OW_API_HOST": "override"})
	b, err := os.ReadFile(filepath.Join(h.p.Dir(), "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kv := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(kv, "PWD=") { // os/exec adds it with a working directory
			got = append(got, kv)
		}
	}
	want := []string{"ANOTHER_VAR=", "SOME_VAR=xyz", "__OW_API_HOST=override", "__OW_EXECUTION_ENV=ex1",
		"__OW_PROXY_VERSION=" + proxy.Version, "__OW_WAIT_FOR_ACK=true"}
	if strings.Join(sorted(got), ",") != strings.Join(want, ",") {
		t.Errorf("child env = %q, want %q", sorted(got), want)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestBinaryActions(t *testing.T) {
	script := "#!/bin/sh\nwhile read l; do cat greeting.txt >&3; done\n"
	greeting := `{"msg":"hello archive"}` + "\n"
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"zip", zipOf(t, file{"exec", script, 0o755}, file{"greeting.txt", greeting, 0o644}), `{"msg":"hello archive"}`},
		{"zip loses exec bit", zipOf(t, file{"exec", script, 0o644}, file{"greeting.txt", greeting, 0o644}), `{"msg":"hello archive"}`},
		{"tar.gz", tgzOf(t, file{"exec", script, 0o755}, file{"greeting.txt", greeting, 0o644}), `{"msg":"hello archive"}`},
		{"single file", []byte("#!/bin/sh\nwhile read l; do echo '{\"single\":true}' >&3; done\n"), `{"single":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, proxy.Options{})
			h.mustInit(b64(tt.code), "main", true, nil)
			if st, body := h.run(map[string]any{}, nil); st != 200 || body != tt.want {
				t.Fatalf("run = %d %s, want %s", st, body, tt.want)
			}
		})
	}
}

// nativeAction logs a line, then prints its argument and two __OW_
// variables as the result on the last line.
const nativeAction = `#!/bin/sh
echo "log line one"
echo "to stderr" >&2
printf '{"args":%s,"ns":"%s","host":"%s","pwd":"%s"}\n' "$1" "$__OW_NAMESPACE" "$__OW_API_HOST" "$PWD"
`

func TestNative(t *testing.T) {
	h := newHarness(t, proxy.Options{Mode: proxy.ModeNative, Env: []string{"__OW_API_HOST=apihost", "PATH=/usr/bin:/bin"}})
	if st, body := h.run(map[string]any{}, nil); st != 500 || body != `{"error":"no action defined yet"}` {
		t.Fatalf("run before init = %d %s", st, body)
	}
	h.mustInit(nativeAction, "main", false, nil)
	st, body := h.run(map[string]any{"name": "Demo"}, map[string]string{"namespace": "guest"})
	want := `{"args":{"name":"Demo"},"ns":"guest","host":"apihost","pwd":"` + h.p.Dir() + `"}`
	if st != 200 || body != want {
		t.Fatalf("run = %d %s, want %s", st, body, want)
	}
	if !strings.Contains(h.stdout(), proxy.Sentinel+"\nlog line one\n"+proxy.Sentinel) || !strings.Contains(h.stderr(), proxy.Sentinel+"\nto stderr\n"+proxy.Sentinel) {
		t.Errorf("logs:\n%s\n%s", h.stdout(), h.stderr())
	}
	h.sentinels(2)
}

func TestNativeFailures(t *testing.T) {
	tests := []struct {
		name, code string
		init, run  int
		want       string
	}{
		{"last line not json", "#!/bin/sh\necho hello\necho bad last\n", 200, 502, `{"error":"The action did not return a dictionary or array."}`},
		{"no output", "#!/bin/sh\ntrue\n", 200, 502, `{"error":"The action did not return a dictionary or array."}`},
		{"array", "#!/bin/sh\necho '[1,2]'\n", 200, 200, `[1,2]`},
		{"not executable", "just text", 502, 0, `{"error":"The action failed to generate or locate a binary. See logs for details."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, proxy.Options{Mode: proxy.ModeNative})
			st, body := h.init(tt.code, "main", false, nil)
			if st != tt.init {
				t.Fatalf("init = %d %s", st, body)
			}
			if tt.run != 0 {
				st, body = h.run(map[string]any{}, nil)
			}
			if body != tt.want || (tt.run != 0 && st != tt.run) {
				t.Fatalf("got %d %s, want %d %s", st, body, tt.run, tt.want)
			}
		})
	}
}

// Parameters beyond the argv limit reach a native action on stdin.
func TestNativeLargeInput(t *testing.T) {
	h := newHarness(t, proxy.Options{Mode: proxy.ModeNative})
	h.mustInit("#!/bin/sh\nif [ -n \"$1\" ]; then echo '{\"via\":\"argv\"}'; else /bin/cat; echo; fi\n", "main", false, nil)
	big := strings.Repeat("a", 200_000)
	st, body := h.run(map[string]any{"arg": big}, nil)
	if st != 200 || body != `{"arg":"`+big+`"}` {
		t.Fatalf("run = %d (%d bytes)", st, len(body))
	}
}

// Runs are serialised unless the proxy allows concurrency.
func TestConcurrency(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		name := map[bool]string{false: "serial", true: "concurrent"}[concurrent]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, proxy.Options{Mode: proxy.ModeNative, Concurrent: concurrent})
			h.mustInit("#!/bin/sh\n/bin/sleep 0.2\necho '{}'\n", "main", false, nil)
			start := time.Now()
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if st, body := h.run(map[string]any{}, nil); st != 200 {
						t.Errorf("run = %d %s", st, body)
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			if concurrent && el > 500*time.Millisecond || !concurrent && el < 600*time.Millisecond {
				t.Errorf("3 runs took %v", el)
			}
			h.sentinels(3)
		})
	}
}

// A writer that is not a file still gets child output and sentinels in
// order, through a pipe that Close drains.
func TestPipedLogs(t *testing.T) {
	var out, errb syncBuffer
	p, err := proxy.New(proxy.Options{Dir: t.TempDir(), Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, p: p}
	srv := httptestServer(t, p)
	h.srv = srv
	h.mustInit(echoLoop, "main", false, nil)
	for range 2 {
		if st, _ := h.run(map[string]any{}, nil); st != 200 {
			t.Fatal(st)
		}
	}
	p.Close()
	want := strings.Repeat("hello stdout\n"+proxy.Sentinel+"\n", 2)
	if out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
	if !strings.HasSuffix(errb.String(), "hello stderr\n"+proxy.Sentinel+"\n") {
		t.Errorf("stderr = %q", errb.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The unix socket replaces a stale file, is world-writable and serves the
// same protocol.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run", "proxy.sock")
	os.MkdirAll(filepath.Dir(sock), 0o755)
	os.WriteFile(sock, []byte("stale"), 0o644)
	lns, err := proxy.Listen("127.0.0.1:0", sock)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o777 {
		t.Fatalf("socket = %v, %v", fi.Mode(), err)
	}
	p, err := proxy.New(proxy.Options{Dir: t.TempDir(), Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proxy.Serve(ctx, p, lns) }()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Post("http://sandbox/init", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || string(body) != `{"error":"Missing main/no code to execute."}` {
		t.Errorf("init over socket = %d %s", resp.StatusCode, body)
	}
	// TCP serves too.
	resp, err = http.Post("http://"+lns[0].Addr().String()+"/run", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("run over tcp = %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	o, err := proxy.OptionsFromEnv([]string{
		"STOKE_PROXY_MODE=actionloop", `STOKE_LAUNCHER=["/usr/bin/node","/stoke/launcher.js"]`,
		"STOKE_SOURCE_FILE=index.js", "OW_WAIT_FOR_ACK=1", "__OW_ALLOW_CONCURRENT=true", "STOKE_PRESTART=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Mode != proxy.ModeLoop || len(o.Launcher) != 2 || o.SourceFile != "index.js" || !o.WaitForAck || !o.Concurrent || !o.Prestart || o.Dir != "/action" {
		t.Errorf("options = %+v", o)
	}
	for _, bad := range [][]string{{"STOKE_PROXY_MODE=weird"}, {"STOKE_LAUNCHER=[oops"}, {"STOKE_SOURCE_FILE=../x"}} {
		if _, err := proxy.OptionsFromEnv(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
