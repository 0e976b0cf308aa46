package proxy_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stokehq/stoke/runtime/proxy"
)

// A prestarted launcher gives the action the same argv, environment and
// working directory as one started at /init.
func TestPrestartSameAsStart(t *testing.T) {
	node := hostBinary(t, "node")
	python := hostBinary(t, "/usr/bin/python3", "python3")
	nodeLauncher, _ := filepath.Abs("../nodejs/launcher.js")
	pyLauncher, _ := filepath.Abs("../python/launcher.py")
	tests := []struct {
		name string
		opt  proxy.Options
		code string
	}{
		{"node", proxy.Options{Launcher: []string{node, nodeLauncher}, SourceFile: "index.js"},
			`function main() { return {argv: process.argv, env: process.env, cwd: process.cwd()} }`},
		{"python", proxy.Options{Launcher: []string{python, pyLauncher}, SourceFile: "__main__.py"},
			"import os, sys\ndef main(a):\n    return {'argv': sys.argv, 'env': dict(os.environ), 'cwd': os.getcwd(), 'path': sys.path}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One action directory for both, so paths compare equal.
			dir := filepath.Join(t.TempDir(), "action")
			var got [2]string
			for i, pre := range []bool{false, true} {
				opt := tt.opt
				opt.Dir, opt.WaitForAck, opt.Prestart = dir, true, pre
				opt.Env = []string{"__OW_API_HOST=h", "SECRET=no"}
				h := newHarness(t, opt)
				h.mustInit(tt.code, "main", false, map[string]string{"SOME_VAR": "xyz", "__OW_API_HOST": "override"})
				st, body := h.run(map[string]any{}, map[string]string{"namespace": "ns"})
				if st != 200 {
					t.Fatalf("prestart %v: run = %d %s", pre, st, body)
				}
				got[i] = body
				h.p.Close()
			}
			if got[0] != got[1] {
				t.Errorf("started at /init:\n%s\nprestarted:\n%s", got[0], got[1])
			}
		})
	}
}

// prestartLauncher is a shell launcher that tells, in each /run result,
// whether it was prestarted: then it answers with the load line it got.
// With the argument "die", the prestarted one exits at once.
const prestartLauncher = `
if [ $# -eq 1 ]; then
	[ "$1" = die ] && exit 0
	IFS= read -r load
	echo '{"ok":true}' >&3
	while IFS= read -r r; do echo "$load" >&3; done
else
	[ -n "$__OW_WAIT_FOR_ACK" ] && echo '{"ok":true}' >&3
	while IFS= read -r r; do echo '{"pre":false}' >&3; done
fi
`

func TestPrestart(t *testing.T) {
	tests := []struct {
		name    string
		how     string // the launcher's argument
		ack     bool
		env     map[string]string
		wantPre bool
	}{
		{name: "used", how: "live", ack: true, env: map[string]string{"A": "1"}, wantPre: true},
		{name: "died", how: "die", ack: true},
		{name: "startup variable", how: "live", ack: true, env: map[string]string{"LANG": "C"}},
		{name: "no ack", how: "live"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, proxy.Options{
				Launcher:   []string{"/bin/sh", "-c", prestartLauncher, "sh", tt.how},
				WaitForAck: tt.ack,
				Prestart:   true,
				Env:        []string{"__OW_API_HOST=h"},
			})
			time.Sleep(50 * time.Millisecond) // time to die
			h.mustInit("code", "niam", false, tt.env)
			st, body := h.run(map[string]any{}, nil)
			if st != 200 {
				t.Fatalf("run = %d %s", st, body)
			}
			if !tt.wantPre {
				if body != `{"pre":false}` {
					t.Errorf("run = %s, want a launcher started at /init", body)
				}
				return
			}
			var load struct {
				Dir, Main, Kind string
				Env             []string
			}
			if err := json.Unmarshal([]byte(body), &load); err != nil {
				t.Fatalf("run = %s, want the load line: %v", body, err)
			}
			if load.Dir != h.p.Dir() || load.Main != "niam" || load.Kind != "file" {
				t.Errorf("load line = %s", body)
			}
			want := []string{"A=1", "__OW_API_HOST=h", "__OW_PROXY_VERSION=" + proxy.Version, "__OW_WAIT_FOR_ACK=true"}
			if strings.Join(load.Env, " ") != strings.Join(want, " ") {
				t.Errorf("load env = %q, want %q", load.Env, want)
			}
		})
	}
}

// A failed /init uses up the prestarted launcher; the retry starts one.
func TestPrestartRetry(t *testing.T) {
	python := hostBinary(t, "/usr/bin/python3", "python3")
	launcher, _ := filepath.Abs("../python/launcher.py")
	h := newHarness(t, proxy.Options{Launcher: []string{python, launcher}, SourceFile: "__main__.py", WaitForAck: true, Prestart: true})
	if st, body := h.init("def main(a) return\n", "main", false, nil); st != 502 || !matches(body, `{"error":"Initialization has failed due to: …`) {
		t.Fatalf("bad init = %d %s", st, body)
	}
	h.mustInit("def main(a):\n    return {'ok': 1}\n", "main", false, nil)
	if st, body := h.run(map[string]any{}, nil); st != 200 || body != `{"ok":1}` {
		t.Fatalf("run = %d %s", st, body)
	}
	if st, _ := h.init("def main(a):\n    return {}\n", "main", false, nil); st != 403 {
		t.Errorf("third init = %d, want 403", st)
	}
}
