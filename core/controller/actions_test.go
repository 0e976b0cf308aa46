package controller

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stokehq/stoke/core/entity"
)

func TestInfo(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/", "/api/v1"} {
		r := e.doAs(t, "", "", "GET", path, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, r.status)
		}
		golden(t, "info", r.body)
	}
	if r := e.doAs(t, "", "", "GET", "/ping", ""); r.status != 200 || string(r.body) != "pong" {
		t.Errorf("ping: %d %q", r.status, r.body)
	}
	if r := e.doAs(t, "", "", "OPTIONS", "/api/v1/namespaces/_/actions", ""); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, user, key, path string
		want                  int
	}{
		{"no credentials", "", "", "/api/v1/namespaces", 401},
		{"wrong key", entity.GuestUUID, strings.Repeat("x", 64), "/api/v1/namespaces", 401},
		{"unknown uuid", "nobody", entity.GuestKey, "/api/v1/namespaces", 401},
		{"key prefix", entity.GuestUUID, entity.GuestKey[:10], "/api/v1/namespaces", 401},
		{"namespaces", entity.GuestUUID, entity.GuestKey, "/api/v1/namespaces", 200},
		{"underscore", entity.GuestUUID, entity.GuestKey, "/api/v1/namespaces/_/actions", 200},
		{"own namespace", entity.GuestUUID, entity.GuestKey, "/api/v1/namespaces/guest/actions", 200},
		{"other namespace", entity.GuestUUID, entity.GuestKey, "/api/v1/namespaces/other/actions", 403},
		{"other tenant", other.UUID, other.Key, "/api/v1/namespaces/guest/actions", 403},
		{"unknown collection", entity.GuestUUID, entity.GuestKey, "/api/v1/namespaces/_/widgets", 404},
		{"limits", entity.GuestUUID, entity.GuestKey, "/api/v1/namespaces/_/limits", 200},
		{"outside the api", entity.GuestUUID, entity.GuestKey, "/nothing", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.doAs(t, tt.user, tt.key, "GET", tt.path, "")
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.want == 401 {
				if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="OpenWhisk secure realm"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				golden(t, "401", r.body)
			}
		})
	}
	r := e.do(t, "GET", "/api/v1/namespaces", "")
	if string(r.body) != `["guest"]` {
		t.Errorf("namespaces = %s", r.body)
	}
}

func TestActionPut(t *testing.T) {
	e := newEnv(t)
	e.mustPut(t, "exists", helloAction)
	big := strings.Repeat("a", entity.MaxParameterBytes)
	tests := []struct {
		name, path, body string
		want             int
		msg              string // in the error, if any
	}{
		{"create", "created", helloAction, 200, ""},
		{"create binary", "zipped", `{"exec":{"kind":"wasm","code":"UEsDBA=="}}`, 200, ""},
		{"default kind", "dflt", `{"exec":{"kind":"nodejs:default","code":"x"}}`, 200, ""},
		{"exists", "exists", helloAction, 409, "resource already exists"},
		{"exists overwrite", "exists?overwrite=true", helloAction, 200, ""},
		{"bad overwrite", "exists?overwrite=maybe", helloAction, 400, "'overwrite'"},
		{"no exec", "noexec", `{}`, 400, "exec is required"},
		{"empty body", "nobody", ``, 400, "body is empty"},
		{"no kind", "nokind", `{"exec":{"code":"x"}}`, 400, "exec.kind"},
		{"no code", "nocode", `{"exec":{"kind":"wasm"}}`, 400, "exec.code"},
		{"unknown kind", "badkind", `{"exec":{"kind":"cobol","code":"x"}}`, 400, "kind 'cobol' is not supported"},
		{"unknown default", "baddflt", `{"exec":{"kind":"cobol:default","code":"x"}}`, 400, "not supported"},
		{"sequence", "seq", `{"exec":{"kind":"sequence","components":["/a/b"]}}`, 400, "sequences"},
		{"bad name", "-bad", helloAction, 400, "not a valid name"},
		{"package path", "pkg/name", helloAction, 404, "Packages are not supported"},
		{"malformed json", "broken", `{"exec":`, 400, "malformed"},
		{"trailing data", "trailing", helloAction + `{}`, 400, "after the JSON value"},
		{"wrong type", "wrongtype", `{"exec":{"kind":"wasm","code":"x"},"limits":{"memory":"big"}}`, 400, "field 'limits.memory' must be a number"},
		{"exec not object", "execstr", `{"exec":"x"}`, 400, "field 'exec' must be a object"},
		{"body not object", "arr", `[1]`, 400, "expected a JSON object"},
		{"memory high", "memhi", `{"exec":{"kind":"wasm","code":"x"},"limits":{"memory":1024}}`, 400, "memory 1024 MB exceeds allowed threshold of 512 MB"},
		{"timeout low", "tlo", `{"exec":{"kind":"wasm","code":"x"},"limits":{"timeout":10}}`, 400, "duration 10 ms below"},
		{"logs high", "loghi", `{"exec":{"kind":"wasm","code":"x"},"limits":{"logs":11}}`, 400, "log size"},
		{"concurrency low", "conclo", `{"exec":{"kind":"wasm","code":"x"},"limits":{"concurrency":0}}`, 400, "concurrency 0"},
		{"empty param key", "pkey", `{"exec":{"kind":"wasm","code":"x"},"parameters":[{"key":"","value":1}]}`, 400, "key is empty"},
		{"duplicate param", "pdup", `{"exec":{"kind":"wasm","code":"x"},"parameters":[{"key":"a","value":1},{"key":"a","value":2}]}`, 400, "listed twice"},
		{"parameters too big", "pbig", `{"exec":{"kind":"wasm","code":"x"},"parameters":[{"key":"a","value":"` + big + `"}]}`, 413, "Parameters larger than allowed"},
		{"bad version", "badver", `{"version":"one","exec":{"kind":"wasm","code":"x"}}`, 400, "semantic version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "PUT", "/api/v1/namespaces/_/actions/"+tt.path, tt.body)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.msg != "" {
				m := r.json(t)
				if msg, _ := m["error"].(string); !strings.Contains(msg, tt.msg) {
					t.Errorf("error %q does not mention %q", msg, tt.msg)
				}
				if code, _ := m["code"].(string); code == "" {
					t.Errorf("error body has no transaction id: %s", r.body)
				}
			}
		})
	}

	t.Run("binary detection", func(t *testing.T) {
		for name, want := range map[string]bool{"zipped": true, "created": false} {
			m := e.do(t, "GET", "/api/v1/namespaces/_/actions/"+name, "").json(t)
			if got := m["exec"].(map[string]any)["binary"]; got != want {
				t.Errorf("%s: binary = %v, want %v", name, got, want)
			}
		}
		m := e.do(t, "GET", "/api/v1/namespaces/_/actions/dflt", "").json(t)
		if got := m["exec"].(map[string]any)["kind"]; got != "nodejs:20" {
			t.Errorf("nodejs:default resolved to %v", got)
		}
	})
}

func TestActionPutLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~150 MB")
	}
	e := newEnv(t)
	code := strings.Repeat("a", entity.MaxCodeBytes+1)
	r := e.do(t, "PUT", "/api/v1/namespaces/_/actions/huge", `{"exec":{"kind":"wasm","code":"`+code+`"}}`)
	if r.status != 413 || !strings.Contains(string(r.body), "Code larger than allowed") {
		t.Errorf("code too big: %d %s", r.status, r.body)
	}
	body := strings.Repeat(" ", maxPutBody) + helloAction
	if r := e.do(t, "PUT", "/api/v1/namespaces/_/actions/huge", body); r.status != 413 {
		t.Errorf("body too big: %d %s", r.status, r.body)
	}
}

func TestActionUpdateMerges(t *testing.T) {
	e := newEnv(t)
	e.mustPut(t, "hello", `{"exec":{"kind":"wasm","code":"v1","main":"run"},
		"parameters":[{"key":"a","value":1},{"key":"secret","value":"s","init":true}],
		"annotations":[{"key":"note","value":"keep"},{"key":"gone","value":true}],
		"limits":{"timeout":1000,"memory":128}}`)
	first := <-e.stored
	if first.Exec.Code != "v1" || first.Version != "0.0.1" {
		t.Fatalf("OnActionStored got %+v", first)
	}
	e.mustPut(t, "hello", `{"limits":{"memory":512},"delAnnotations":["gone"]}`)
	second := <-e.stored
	if second.Exec.Code != "v1" {
		t.Errorf("update without exec lost the code: %q", second.Exec.Code)
	}
	r := e.do(t, "GET", "/api/v1/namespaces/_/actions/hello", "")
	golden(t, "updated", r.body)

	e.mustPut(t, "hello", `{"exec":{"kind":"nodejs:20","code":"v3"},"parameters":[]}`)
	r = e.do(t, "GET", "/api/v1/namespaces/_/actions/hello?code=false", "")
	golden(t, "replaced", r.body)
}

func TestActionGetListDelete(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"b", "a", "c"} {
		e.mustPut(t, n, helloAction)
	}
	e.doAs(t, other.UUID, other.Key, "PUT", "/api/v1/namespaces/_/actions/theirs", helloAction)

	r := e.do(t, "GET", "/api/v1/namespaces/_/actions/a", "")
	if r.status != 200 {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	golden(t, "get", r.body)
	golden(t, "get-nocode", e.do(t, "GET", "/api/v1/namespaces/_/actions/a?code=false", "").body)
	golden(t, "list", e.do(t, "GET", "/api/v1/namespaces/_/actions", "").body)

	tests := []struct {
		name, method, path string
		want               int
		body               string
	}{
		{"count", "GET", "/api/v1/namespaces/_/actions?count=true", 200, `{"actions":3}`},
		{"limit", "GET", "/api/v1/namespaces/_/actions?limit=1&skip=1", 200, ""},
		{"limit zero means default", "GET", "/api/v1/namespaces/_/actions?limit=0", 200, ""},
		{"limit too high", "GET", "/api/v1/namespaces/_/actions?limit=201", 400, ""},
		{"limit not a number", "GET", "/api/v1/namespaces/_/actions?limit=x", 400, ""},
		{"negative skip", "GET", "/api/v1/namespaces/_/actions?skip=-1", 400, ""},
		{"missing", "GET", "/api/v1/namespaces/_/actions/nope", 404, ""},
		{"other tenant", "GET", "/api/v1/namespaces/_/actions/theirs", 404, ""},
		{"bad method", "PATCH", "/api/v1/namespaces/_/actions/a", 405, ""},
		{"bad method on list", "POST", "/api/v1/namespaces/_/actions", 405, ""},
		{"delete", "DELETE", "/api/v1/namespaces/_/actions/b", 200, ""},
		{"deleted", "GET", "/api/v1/namespaces/_/actions/b", 404, ""},
		{"delete again", "DELETE", "/api/v1/namespaces/_/actions/b", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, "")
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.body != "" && string(r.body) != tt.body {
				t.Errorf("body %s, want %s", r.body, tt.body)
			}
			if tt.want >= 400 {
				golden(t, strings.ReplaceAll(tt.name, " ", "-"), r.body)
			}
		})
	}
}
