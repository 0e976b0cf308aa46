package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/entity"
)

var cliUpdate = flag.Bool("update", false, "rewrite the CLI golden files")

// cliResponses holds OpenWhisk-shaped canned bodies, shared with the
// client's tests.
const cliResponses = "../../client/testdata/responses"

// cliFake is an API server that answers from canned files and records
// every request, so that a golden file shows what the CLI sent.
type cliFake struct {
	mu   sync.Mutex
	log  strings.Builder
	errs []error
}

func (f *cliFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user, pass, _ := r.BasicAuth()
	f.mu.Lock()
	fmt.Fprintf(&f.log, "> %s %s\n> user %s\n", r.Method, r.URL.RequestURI(), user)
	if len(body) > 0 {
		fmt.Fprintf(&f.log, "> %s\n", body)
	}
	f.mu.Unlock()

	status, file, id := f.route(r, pass)
	data, err := os.ReadFile(filepath.Join(cliResponses, file))
	if err != nil {
		f.mu.Lock()
		f.errs = append(f.errs, err)
		f.mu.Unlock()
	}
	if id != "" {
		w.Header().Set("X-OpenWhisk-Activation-Id", id)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

func (f *cliFake) route(r *http.Request, pass string) (status int, file, id string) {
	const ns = "/api/v1/namespaces/_/"
	p := r.URL.Path
	q := r.URL.Query()
	switch {
	case pass == "bad":
		return 401, "unauthorized.json", ""
	case strings.HasSuffix(p, "/nope"):
		return 404, "not_found.json", ""
	case r.Method == "PUT" && strings.HasSuffix(p, "/exists"):
		return 409, "conflict.json", ""
	case p == ns+"actions":
		return 200, "actions_list.json", ""
	case r.Method == "POST" && p == ns+"actions/fails" && q.Get("result") == "true":
		return 502, "result_error.json", "ffeeddccbbaa99887766554433221100"
	case r.Method == "POST" && p == ns+"actions/fails":
		return 502, "activation_failed.json", "ffeeddccbbaa99887766554433221100"
	case r.Method == "POST" && (p == ns+"actions/slow" || q.Get("blocking") != "true"):
		return 202, "accepted.json", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	case r.Method == "POST" && q.Get("result") == "true":
		return 200, "result.json", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	case r.Method == "POST":
		return 200, "activation.json", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	case strings.HasPrefix(p, ns+"actions/"):
		return 200, "action.json", ""
	case p == ns+"activations":
		return 200, "activations_list.json", ""
	case strings.HasSuffix(p, "/logs"):
		return 200, "logs.json", ""
	case strings.HasSuffix(p, "/result"):
		return 200, "activation_result.json", ""
	case strings.HasPrefix(p, ns+"activations/"):
		return 200, "activation.json", ""
	}
	return 404, "not_found.json", ""
}

// cliRun runs one CLI command line in-process and returns its output and
// exit code as main's run would.
func cliRun(c *userCLI, args []string) int {
	ctx := context.Background()
	var err error
	switch args[0] {
	case "action":
		err = c.action(ctx, args[1:])
	case "activation":
		err = c.activation(ctx, args[1:])
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(c.stderr, "error: %v\n", err)
		return 1
	}
}

func TestCLI(t *testing.T) {
	const refused = "http://127.0.0.1:1" // nothing listens on port 1
	tests := []struct {
		name  string
		args  string            // split on spaces; $SERVER is the fake's URL
		env   map[string]string // $SERVER and $HOME are replaced
		files map[string]string // under $HOME; $SERVER is replaced
	}{
		// action create and update
		{name: "create_js", args: `action create hello testdata/cli/hello.js -p name world -p n 3 -p obj {"a":_1} -p s "quoted" -p t true --memory 128 -a web-export true`},
		{name: "create_wasm", args: "action create add testdata/cli/add.wasm --timeout 3000 --concurrency 4 --logsize 1"},
		{name: "create_native_binary", args: "action create tool testdata/cli/tool --kind go:1.22 --main Main"},
		{name: "create_interspersed", args: "action create --memory 256 hello -P testdata/cli/params.json testdata/cli/hello.js --param name override --annotation a 1 --json"},
		{name: "create_no_kind", args: "action create notes testdata/cli/notes.txt"},
		{name: "create_missing_file", args: "action create hello testdata/cli/missing.js"},
		{name: "create_conflict", args: "action create exists testdata/cli/hello.js"},
		{name: "create_no_file_arg", args: "action create hello"},
		{name: "create_bad_memory", args: "action create hello testdata/cli/hello.js --memory lots"},
		{name: "create_negative_timeout", args: "action create hello testdata/cli/hello.js --timeout -5"},
		{name: "create_bad_param_file", args: "action create hello testdata/cli/hello.js -P testdata/cli/array.json"},
		{name: "update_params_only", args: "action update hello -p name again"},
		{name: "update_kind_without_file", args: "action update hello --kind wasm"},
		// action get, list, delete
		{name: "get", args: "action get hello"},
		{name: "get_nocode_json", args: "action get hello --code=false --json"},
		{name: "get_two_names", args: "action get a b"},
		{name: "list", args: "action list --limit 2 --skip 1"},
		{name: "list_json", args: "action list --json"},
		{name: "delete", args: "action delete hello"},
		{name: "delete_not_found", args: "action delete nope"},
		// action invoke
		{name: "invoke_nonblocking", args: "action invoke hello -p name stoke"},
		{name: "invoke_blocking", args: "action invoke hello -b -P testdata/cli/params.json -p count 3"},
		{name: "invoke_result", args: "action invoke hello -r --timeout 5000"},
		{name: "invoke_json", args: "action invoke --blocking hello --json"},
		{name: "invoke_not_finished", args: "action invoke slow --blocking"},
		{name: "invoke_failed", args: "action invoke fails -b"},
		{name: "invoke_failed_result", args: "action invoke fails -r"},
		{name: "invoke_pair_missing_value", args: "action invoke hello -p onlykey"},
		{name: "invoke_not_found", args: "action invoke nope -b"},
		// activations
		{name: "activation_list", args: "activation list hello --limit 5 --since 1767225600000 --upto 2026-01-02T00:00:00Z"},
		{name: "activation_list_json", args: "activation list --json --skip 2"},
		{name: "activation_list_bad_since", args: "activation list --since yesterday"},
		{name: "activation_get", args: "activation get 0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		{name: "activation_get_not_found", args: "activation get nope"},
		{name: "activation_logs", args: "activation logs 0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		{name: "activation_logs_json", args: "activation logs 0a1b2c3d4e5f60718293a4b5c6d7e8f9 --json"},
		{name: "activation_result", args: "activation result 0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		{name: "activation_result_json", args: "activation --json result 0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		// usage
		{name: "action_no_subcommand", args: "action"},
		{name: "action_unknown_subcommand", args: "action frob"},
		{name: "action_unknown_flag", args: "action list --frob"},
		{name: "activation_help", args: "activation help"},
		{name: "activation_flags_only", args: "activation --json --apihost $SERVER"},
		// settings: flag > env > file > default
		{name: "settings_flag_over_env", args: "action list --apihost $SERVER --auth flag:key",
			env:   map[string]string{"STOKE_APIHOST": refused, "STOKE_AUTH": "env:key"},
			files: map[string]string{".stoke/config": "APIHOST=" + refused + "\nAUTH=file:key\n"}},
		{name: "settings_env_over_file", args: "action list",
			env:   map[string]string{"STOKE_APIHOST": "$SERVER", "STOKE_AUTH": "env:key"},
			files: map[string]string{".stoke/config": "APIHOST=" + refused + "\nAUTH=file:key\n"}},
		{name: "settings_stoke_config_env", args: "action list",
			env:   map[string]string{"STOKE_CONFIG": "$HOME/elsewhere.props"},
			files: map[string]string{"elsewhere.props": "# mine\nAPIHOST = $SERVER\n\nAUTH=named:key\n", ".stoke/config": "AUTH=home:key\n"}},
		{name: "settings_stoke_over_wskprops", args: "action list",
			files: map[string]string{".stoke/config": "APIHOST=$SERVER\nAUTH=stoke:key\n", ".wskprops": "APIHOST=" + refused + "\nAUTH=wsk:key\n"}},
		{name: "settings_wskprops", args: "action list",
			files: map[string]string{".wskprops": "APIHOST=$SERVER\nAUTH=wsk:key\nNAMESPACE=guest\n"}},
		{name: "settings_file_host_default_auth", args: "action list",
			files: map[string]string{".wskprops": "APIHOST=$SERVER\n"}},
		{name: "settings_default_host", args: "action list", env: map[string]string{"STOKE_AUTH": "env:key"}},
		{name: "settings_defaults", args: "action list"},
		{name: "settings_missing_stoke_config", args: "action list", env: map[string]string{"STOKE_CONFIG": "$HOME/none"}},
		{name: "settings_bad_config_line", args: "action list", files: map[string]string{".wskprops": "APIHOST $SERVER\n"}},
		{name: "settings_bad_auth", args: "action list --auth nocolon --apihost $SERVER"},
		{name: "unauthorized", args: "action list --auth me:bad --apihost $SERVER"},
		{name: "connection_refused", args: "action list --apihost " + refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &cliFake{}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			home := t.TempDir()
			expand := strings.NewReplacer("$SERVER", srv.URL, "$HOME", home).Replace

			for name, content := range tt.files {
				p := filepath.Join(home, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(expand(content)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{"STOKE_APIHOST": srv.URL}
			if tt.files != nil || strings.Contains(tt.args, "--apihost") || strings.HasPrefix(tt.name, "settings_default") {
				delete(env, "STOKE_APIHOST") // the case sets the host itself
			}
			for k, v := range tt.env {
				env[k] = expand(v)
			}
			var stdout, stderr bytes.Buffer
			c := &userCLI{
				stdout: &stdout, stderr: &stderr,
				getenv: func(k string) string { return env[k] },
				home:   func() (string, error) { return home, nil },
				loc:    time.UTC,
				// The real default, 127.0.0.1:3233, may be a developer's
				// running server; TestCLIDefaults checks it.
				defaultHost: srv.URL,
			}
			var args []string
			for _, a := range strings.Fields(tt.args) {
				// "_" stands for a space inside one argument.
				args = append(args, strings.ReplaceAll(expand(a), "_", " "))
			}
			code := cliRun(c, args)

			for _, err := range fake.errs {
				t.Error(err)
			}
			var out strings.Builder
			fmt.Fprintf(&out, "$ stoke %s\n", tt.args)
			out.WriteString(fake.log.String())
			fmt.Fprintf(&out, "--- stdout\n%s--- stderr\n%s--- exit %d\n", stdout.String(), strings.NewReplacer(srv.URL, "$SERVER", home, "$HOME").Replace(stderr.String()), code)
			cliGolden(t, filepath.Join("testdata", "cli", tt.name+".golden"), out.String())
		})
	}
}

func cliGolden(t *testing.T, path, got string) {
	t.Helper()
	if *cliUpdate {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestCLIDefaults(t *testing.T) {
	c := newUserCLI()
	c.getenv = func(string) string { return "" }
	c.home = func() (string, error) { return t.TempDir(), nil }
	host, auth, err := c.settings()
	if err != nil {
		t.Fatal(err)
	}
	if host != "http://127.0.0.1:3233" || auth != entity.GuestUUID+":"+entity.GuestKey {
		t.Errorf("defaults = %q, %q; want OpenWhisk standalone's", host, auth)
	}
}

// TestCLIValue checks wsk's rule for -p values.
func TestCLIValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hello", `"hello"`},
		{"3", `3`},
		{"-1.5e3", `-1.5e3`},
		{"true", `true`},
		{"null", `null`},
		{`"quoted"`, `"quoted"`},
		{`{ "a" : [1, 2] }`, `{"a":[1,2]}`},
		{"", `""`},
		{"{not json", `"{not json"`},
		{"tab\there", `"tab\there"`},
		{"<b>", `"<b>"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := string(cliJSONValue(tt.in)); got != tt.want {
				t.Errorf("cliJSONValue(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestCLIReadExec checks kind inference and binary detection.
func TestCLIReadExec(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		file       string
		data       []byte
		kind       string
		wantKind   string
		wantBinary bool
		wantErr    string
	}{
		{"a.js", []byte("function main(){}"), "", "nodejs:20", false, ""},
		{"a.MJS", []byte("export function main(){}"), "", "nodejs:20", false, ""},
		{"a.py", []byte("def main(a): return a"), "", "python:3", false, ""},
		{"a.wasm", []byte("\x00asm\x01\x00\x00\x00"), "", "wasm", true, ""},
		{"a.zip", []byte("PK\x03\x04 text-looking"), "nodejs:20", "nodejs:20", true, ""},
		{"a.zip", []byte("PK\x03\x04"), "", "", false, "use --kind"},
		{"exe", []byte("\x7fELF\xff"), "go:1.22", "go:1.22", true, ""},
		{"utf8.js", []byte("return 'héllo ✓'"), "", "nodejs:20", false, ""},
		{"latin1.py", []byte("s = 'h\xe9llo'"), "", "python:3", true, ""},
		{"override.js", []byte("x"), "python:3", "python:3", false, ""},
		{"empty.js", nil, "", "", false, "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.kind, func(t *testing.T) {
			e, err := cliReadExec(write(tt.file, tt.data), tt.kind, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != tt.wantKind || e.Binary != tt.wantBinary {
				t.Errorf("exec = kind %q binary %v, want %q %v", e.Kind, e.Binary, tt.wantKind, tt.wantBinary)
			}
			if !e.Binary && e.Code != string(tt.data) {
				t.Errorf("code = %q", e.Code)
			}
		})
	}
	if _, err := cliReadExec(filepath.Join(dir, "absent.js"), "", ""); err == nil {
		t.Error("reading a missing file succeeded")
	}
}
