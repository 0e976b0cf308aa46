package controller

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stokehq/stoke/core/entity"
)

// serveDirect calls the handler in-process (no sockets: fuzzing runs it
// many thousand times) and fails on a 5xx.
func serveDirect(t *testing.T, e *env, method, path, body string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth(entity.GuestUUID, entity.GuestKey)
	w := httptest.NewRecorder()
	e.ctl.Handler().ServeHTTP(w, req)
	if w.Code >= 500 || w.Code < 200 {
		t.Fatalf("%s %s with %q: status %d: %s", method, path, body, w.Code, w.Body)
	}
}

func FuzzActionPut(f *testing.F) {
	for _, s := range []string{
		helloAction,
		`{"exec":{"kind":"wasm","code":"UEsDBA==","binary":true,"main":"m"},"parameters":[{"key":"a","value":{"b":[1,2]}}],"limits":{"timeout":1000,"memory":128,"logs":0,"concurrency":5}}`,
		`{"limits":{"memory":-1}}`,
		`{"exec":{"kind":"nodejs:default","code":""},"annotations":[{"key":"k"}],"delAnnotations":["k"]}`,
		`{"exec":null,"parameters":null}`,
		`[]`, `null`, `"x"`, `{"exec":{"kind":1}}`,
	} {
		f.Add(s, true)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body string, overwrite bool) {
		q := "?overwrite=false"
		if overwrite {
			q = "?overwrite=true"
		}
		serveDirect(t, e, "PUT", "/api/v1/namespaces/_/actions/fuzzed"+q, body)
	})
}

func FuzzInvokeBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `[1,"x",null]`, ``, `{"p":{"q":[true]}}`, `1`, `{"a":`, `{"p":1,"p":2}`} {
		f.Add(s, "true")
	}
	f.Add(`{}`, "false")
	e := newEnv(f)
	e.mustPut(f, "params", `{"exec":{"kind":"wasm","code":"x"},"parameters":[{"key":"p","value":1}],"annotations":[{"key":"final","value":true}]}`)
	f.Fuzz(func(t *testing.T, body, blocking string) {
		serveDirect(t, e, "POST", "/api/v1/namespaces/_/actions/params?timeout=5000&blocking="+blockingParam(blocking), body)
	})
}

// blockingParam keeps the fuzzer's query string from breaking the URL.
func blockingParam(s string) string {
	if s == "true" || s == "false" {
		return s
	}
	return "x"
}
