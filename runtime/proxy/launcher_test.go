package proxy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stokehq/stoke/runtime/proxy"
)

// The launchers run on the host's node and python3 through the real proxy,
// exactly as in the images (ack on, child env limited to __OW_*).

func hostBinary(t *testing.T, candidates ...string) string {
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil && filepath.IsAbs(p) {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("none of %v found", candidates)
	}
	t.Skipf("none of %v found", candidates)
	return ""
}

type launcherCase struct {
	name    string
	code    string
	archive []file
	main    string
	env     map[string]string
	input   any
	ctx     map[string]string
	init    int    // expected init status (0 = 200)
	status  int    // expected run status (0 = 200)
	want    string // exact body, or prefix with "…"
	log     string // stderr must contain this
}

// runLauncherCases runs every case with a launcher started at /init and
// with a prestarted one: the two must not differ.
func runLauncherCases(t *testing.T, opt proxy.Options, cases []launcherCase) {
	for _, pre := range []bool{false, true} {
		opt := opt
		opt.Prestart = pre
		name := "start"
		if pre {
			name = "prestart"
		}
		t.Run(name, func(t *testing.T) { runLauncherCasesWith(t, opt, cases) })
	}
}

func runLauncherCasesWith(t *testing.T, opt proxy.Options, cases []launcherCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, opt)
			main := tc.main
			if main == "" {
				main = "main"
			}
			var st int
			var body string
			if tc.archive != nil {
				st, body = h.init(b64(zipOf(t, tc.archive...)), main, true, tc.env)
			} else {
				st, body = h.init(tc.code, main, false, tc.env)
			}
			wantInit := tc.init
			if wantInit == 0 {
				wantInit = 200
			}
			if st != wantInit {
				t.Fatalf("init = %d %s; stderr:\n%s", st, body, h.stderr())
			}
			if st == 200 {
				input := tc.input
				if input == nil {
					input = map[string]any{}
				}
				st, body = h.run(input, tc.ctx)
				want := tc.status
				if want == 0 {
					want = 200
				}
				if st != want {
					t.Fatalf("run = %d %s; stderr:\n%s", st, body, h.stderr())
				}
			}
			if !matches(body, tc.want) {
				t.Errorf("body = %s, want %s", body, tc.want)
			}
			if !strings.Contains(h.stderr(), tc.log) {
				t.Errorf("stderr lacks %q:\n%s", tc.log, h.stderr())
			}
			h.sentinels(1)
		})
	}
}

func TestNodeLauncher(t *testing.T) {
	node := hostBinary(t, "node")
	launcher, _ := filepath.Abs("../nodejs/launcher.js")
	opt := proxy.Options{Launcher: []string{node, launcher}, SourceFile: "index.js", WaitForAck: true}
	runLauncherCases(t, opt, []launcherCase{
		{name: "sync", code: `function main(a) { console.log("hello stdout"); return {got: a.x} }`, input: map[string]any{"x": 1}, want: `{"got":1}`},
		{name: "async", code: `async function main(a) { await new Promise(r => setTimeout(r, 20)); return {done: true} }`, want: `{"done":true}`},
		{name: "promise", code: `function main() { return new Promise(r => setTimeout(() => r({done: true}), 20)) }`, want: `{"done":true}`},
		{name: "array", code: `function main(a) { return a }`, input: []any{"a", "b"}, want: `["a","b"]`},
		{name: "undefined", code: `function main() {}`, want: `{}`},
		{name: "string result", code: `function main() { return "nope" }`, status: 502, want: `{"error":"The action did not return a dictionary or array."}`},
		{name: "throw", code: `function main() { throw new Error("nooooo") }`, want: `{"error":"Error: nooooo"}`, log: "at main"},
		{name: "throw string", code: `function main() { throw "nooooo" }`, want: `{"error":"nooooo"}`},
		{name: "reject", code: `function main() { return Promise.reject(new Error("sorry")) }`, want: `{"error":"Error: sorry"}`},
		{name: "async reference error", code: `async function main() { return a.b }`, want: `{"error":"ReferenceError: a is not defined"}`},
		{name: "application error", code: `function main() { return {error: "sorry"} }`, want: `{"error":"sorry"}`},
		{name: "syntax error", code: `function main() { return {`, init: 502, want: `{"error":"Initialization has failed due to: SyntaxError: …`, log: "SyntaxError"},
		{name: "no main", code: `function other() {}`, init: 502, want: `{"error":"Initialization has failed due to: Error: Action entrypoint 'main' is not a function."}`},
		{name: "custom main", code: `function niam(a) { return a }`, main: "niam", input: map[string]any{"string": "hello"}, want: `{"string":"hello"}`},
		{name: "exports.main", code: `exports.main = a => ({e: 1})`, want: `{"e":1}`},
		{name: "module.exports.main", code: `module.exports.main = a => ({m: 1})`, want: `{"m":1}`},
		{name: "global main", code: `global.main = a => ({g: 1})`, want: `{"g":1}`},
		{name: "unicode", code: `function main(a) { const s = a.delimiter + " ☃ " + a.delimiter; console.log(s); return {winter: s} }`, input: map[string]any{"delimiter": "❄"}, want: `{"winter":"❄ ☃ ❄"}`},
		{name: "env", code: `const v = process.env.SOME_VAR; function main() { return {v, e: process.env.ANOTHER_VAR, ns: process.env.__OW_NAMESPACE, id: process.env.__OW_ACTIVATION_ID} }`,
			env: map[string]string{"SOME_VAR": "xyz", "ANOTHER_VAR": ""}, ctx: map[string]string{"namespace": "zzz", "activation_id": "iii"},
			want: `{"v":"xyz","e":"","ns":"zzz","id":"iii"}`},
		{name: "zip package.json", archive: []file{{"package.json", `{"main": "lib/entry.js"}`, 0o644}, {"lib/entry.js", `exports.main = () => ({from: "package"})`, 0o644}}, want: `{"from":"package"}`},
		{name: "zip index.js", archive: []file{{"index.js", `exports.main = () => ({from: "index", cwd: process.cwd() === __dirname})`, 0o644}}, want: `{"from":"index","cwd":true}`},
		{name: "zip file.func", archive: []file{{"index.js", ``, 0o644}, {"other.js", `exports.niam = () => ({from: "other"})`, 0o644}}, main: "other.niam", want: `{"from":"other"}`},
		{name: "zip nested", archive: []file{{"other.js", `exports.niam = {xyz: () => ({nested: true})}`, 0o644}}, main: "other.niam.xyz", want: `{"nested":true}`},
		{name: "startup env", code: `function main() { return {nd: process.noDeprecation === true} }`, env: map[string]string{"NODE_OPTIONS": "--no-deprecation"}, want: `{"nd":true}`},
		{name: "zip not an action", archive: []file{{"README", `hi`, 0o644}}, init: 502, want: `{"error":"Initialization has failed due to: Error: Zipped actions must contain either package.json or index.js at the root."}`},
	})
}

func TestPythonLauncher(t *testing.T) {
	// Prefer the distribution's python: version shims need PATH, which the
	// child does not get.
	python := hostBinary(t, "/usr/bin/python3", "python3")
	launcher, _ := filepath.Abs("../python/launcher.py")
	opt := proxy.Options{Launcher: []string{python, launcher}, SourceFile: "__main__.py", WaitForAck: true}
	runLauncherCases(t, opt, []launcherCase{
		{name: "dict", code: "def main(a):\n    print('hello stdout')\n    return {'got': a['x']}\n", input: map[string]any{"x": 1}, want: `{"got":1}`},
		{name: "array", code: "def main(a):\n    return a\n", input: []any{"a", "b"}, want: `["a","b"]`},
		{name: "string result", code: "def main(a):\n    return 'nope'\n", status: 502, want: `{"error":"The action did not return a dictionary or array."}`},
		{name: "exception", code: "def main(a):\n    return 1/0\n", want: `{"error":"division by zero"}`, log: "Traceback"},
		{name: "application error", code: "def main(a):\n    return {'error': 'sorry'}\n", want: `{"error":"sorry"}`},
		{name: "syntax error", code: "def main(a) return\n", init: 502, want: `{"error":"Initialization has failed due to: expected ':'…`, log: "SyntaxError"},
		{name: "exit at import", code: "import sys\nsys.exit(1)\n", init: 502, want: `{"error":"Cannot start action. Check logs for details."}`, log: "Command exited abruptly during initialization."},
		{name: "exit at run", code: "import sys\ndef main(a):\n    sys.exit(1)\n", status: 400, want: `{"error":"command exited"}`},
		{name: "custom main", code: "def niam(a):\n    return a\n", main: "niam", input: map[string]any{"string": "hello"}, want: `{"string":"hello"}`},
		{name: "unicode", code: "def main(a):\n    s = a['delimiter'] + ' ☃ ' + a['delimiter']\n    print(s)\n    return {'winter': s}\n", input: map[string]any{"delimiter": "❄"}, want: `{"winter":"❄ ☃ ❄"}`},
		{name: "env", code: "import os\nv = os.environ['SOME_VAR']\ndef main(a):\n    return {'v': v, 'e': os.environ['ANOTHER_VAR'], 'ns': os.environ['__OW_NAMESPACE']}\n",
			env: map[string]string{"SOME_VAR": "xyz", "ANOTHER_VAR": ""}, ctx: map[string]string{"namespace": "zzz"}, want: `{"v":"xyz","e":"","ns":"zzz"}`},
		{name: "zip", archive: []file{{"__main__.py", "from echo import echo\ndef niam(a):\n    return echo(a)\n", 0o644}, {"echo.py", "def echo(a):\n    return {'echo': a, 'file': open('workfile').read()}\n", 0o644}, {"workfile", "data", 0o644}},
			main: "niam", input: map[string]any{"k": "v"}, want: `{"echo":{"k":"v"},"file":"data"}`},
		{name: "startup env", code: "import sys\ndef main(a):\n    return {'b': sys.flags.dont_write_bytecode}\n", env: map[string]string{"PYTHONDONTWRITEBYTECODE": "1"}, want: `{"b":1}`},
		{name: "zip without main", archive: []file{{"echo.py", "x = 1\n", 0o644}}, init: 502, want: `{"error":"Initialization has failed due to: Zip file does not include __main__.py"}`, log: "Zip file does not include"},
	})
}

// A 1 MiB parameter makes the round trip through proxy and launcher.
func TestLauncherLargeInput(t *testing.T) {
	node := hostBinary(t, "node")
	launcher, _ := filepath.Abs("../nodejs/launcher.js")
	h := newHarness(t, proxy.Options{Launcher: []string{node, launcher}, SourceFile: "index.js", WaitForAck: true})
	h.mustInit(`function main(a) { return a }`, "main", false, nil)
	big := strings.Repeat("a", 1<<20)
	if st, body := h.run(map[string]any{"arg": big}, nil); st != 200 || body != `{"arg":"`+big+`"}` {
		t.Fatalf("run = %d (%d bytes)", st, len(body))
	}
}
