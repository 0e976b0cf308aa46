package controller

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/bus"
)

func TestInvoke(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"echo", "apperr", "deverr", "whiskerr", "slow", "silent"} {
		e.mustPut(t, n, helloAction)
	}
	e.mustPut(t, "params", `{"exec":{"kind":"wasm","code":"x"},"parameters":[{"key":"a","value":1},{"key":"b","value":2}]}`)
	e.mustPut(t, "final", `{"exec":{"kind":"wasm","code":"x"},"parameters":[{"key":"a","value":1}],"annotations":[{"key":"final","value":true}]}`)
	const base = "/api/v1/namespaces/_/actions/"
	tests := []struct {
		name, path, body string
		want             int
		body200          string // exact body, when set
		msg              string // in the error, when set
	}{
		{"non-blocking", "echo", `{"x":1}`, 202, "", ""},
		{"blocking", "echo?blocking=true", `{"x":1}`, 200, "", ""},
		{"result", "echo?blocking=true&result=true", `{"x":1}`, 200, `{"x":1}`, ""},
		{"no body", "echo?blocking=true&result=true", ``, 200, `{}`, ""},
		{"array", "echo?blocking=true&result=true", `[1,2]`, 200, `[1,2]`, ""},
		{"merge", "params?blocking=true&result=true", `{"b":3,"c":4}`, 200, `{"a":1,"b":3,"c":4}`, ""},
		{"defaults", "params?blocking=true&result=true", ``, 200, `{"a":1,"b":2}`, ""},
		{"final kept", "final?blocking=true&result=true", `{"z":1}`, 200, `{"a":1,"z":1}`, ""},
		{"final overridden", "final?blocking=true", `{"a":2}`, 400, "", "not allowed"},
		{"application error", "apperr?blocking=true", ``, 502, "", ""},
		{"application error result", "apperr?blocking=true&result=true", ``, 502, `{"error":"app says no"}`, ""},
		{"developer error", "deverr?blocking=true", ``, 502, "", ""},
		{"whisk error", "whiskerr?blocking=true", ``, 500, "", ""},
		{"wait exceeded", "slow?blocking=true&timeout=50", ``, 202, "", ""},
		{"slow within wait", "slow?blocking=true&result=true", `{"s":1}`, 200, `{"s":1}`, ""},
		{"timeout zero", "echo?blocking=true&timeout=0", ``, 400, "", "Timeout must be number of milliseconds up to 60000."},
		{"timeout too long", "echo?blocking=true&timeout=60001", ``, 400, "", "up to 60000"},
		{"timeout not a number", "echo?blocking=true&timeout=soon", ``, 400, "", "up to 60000"},
		{"bad blocking", "echo?blocking=yes", ``, 400, "", "'blocking'"},
		{"string payload", "echo", `"hi"`, 400, "", "object or array"},
		{"broken payload", "echo", `{"a":`, 400, "", "malformed"},
		{"trailing garbage", "echo", `{"a":1} x`, 400, "", "malformed"},
		{"missing action", "nope", `{}`, 404, "", "does not exist"},
		{"payload too big", "echo", `{"a":"` + strings.Repeat("x", maxInvokeBody) + `"}`, 413, "", "too large"},
		{"merged too big", "params", `{"a":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "", "Request larger than allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "POST", base+tt.path, tt.body)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.body200 != "" && string(r.body) != tt.body200 {
				t.Errorf("body %s, want %s", r.body, tt.body200)
			}
			if tt.msg != "" && !strings.Contains(string(r.body), tt.msg) {
				t.Errorf("body %s does not mention %q", r.body, tt.msg)
			}
			if tt.want < 400 || tt.want >= 500 {
				id := r.header.Get("x-openwhisk-activation-id")
				if !validActivationID(id) {
					t.Errorf("x-openwhisk-activation-id = %q", id)
				}
				if tt.want == 202 && string(r.body) != `{"activationId":"`+id+`"}` {
					t.Errorf("202 body %s does not carry %s", r.body, id)
				}
			}
		})
	}
	r := e.do(t, "POST", base+"echo?blocking=true", `{"x":1}`)
	golden(t, "blocking", r.body)
	r = e.do(t, "POST", base+"deverr?blocking=true", ``)
	golden(t, "developer-error", r.body)
}

func TestThrottle(t *testing.T) {
	t.Run("concurrent", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.ConcurrentInvocations = 2 })
		e.mustPut(t, "silent", helloAction)
		e.mustPut(t, "echo", helloAction)
		for i := 0; i < 2; i++ {
			if r := e.do(t, "POST", "/api/v1/namespaces/_/actions/silent", ""); r.status != 202 {
				t.Fatalf("invoke %d: %d %s", i, r.status, r.body)
			}
		}
		r := e.do(t, "POST", "/api/v1/namespaces/_/actions/echo", "")
		if r.status != 429 || !strings.Contains(string(r.body), "Too many concurrent requests in flight (count: 3, allowed: 2).") {
			t.Fatalf("third: %d %s", r.status, r.body)
		}
		// Another namespace has its own slots.
		e.doAs(t, other.UUID, other.Key, "PUT", "/api/v1/namespaces/_/actions/echo", helloAction)
		if r := e.doAs(t, other.UUID, other.Key, "POST", "/api/v1/namespaces/_/actions/echo?blocking=true", ""); r.status != 200 {
			t.Fatalf("other namespace: %d %s", r.status, r.body)
		}
		// A sweep after the deadline frees the slots of lost activations.
		e.ctl.sweep(time.Now().Add(2 * time.Hour))
		if n := e.ctl.throttle.inFlight("guest"); n != 0 {
			t.Fatalf("in flight after sweep: %d", n)
		}
		if r := e.do(t, "POST", "/api/v1/namespaces/_/actions/echo?blocking=true", ""); r.status != 200 {
			t.Fatalf("after sweep: %d %s", r.status, r.body)
		}
		// Completed activations gave their slots back.
		if n := e.ctl.throttle.inFlight("guest"); n != 0 {
			t.Errorf("in flight after completion: %d", n)
		}
	})
	t.Run("per minute", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.InvocationsPerMinute = 2 })
		e.mustPut(t, "echo", helloAction)
		for i := 0; i < 2; i++ {
			if r := e.do(t, "POST", "/api/v1/namespaces/_/actions/echo?blocking=true", ""); r.status != 200 {
				t.Fatalf("invoke %d: %d %s", i, r.status, r.body)
			}
		}
		r := e.do(t, "POST", "/api/v1/namespaces/_/actions/echo", "")
		if r.status != 429 || !strings.Contains(string(r.body), "Too many requests in the last minute (count: 3, allowed: 2).") {
			t.Fatalf("third: %d %s", r.status, r.body)
		}
	})
}

func TestInvokeNoInvokers(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Balancer = BalancerFunc(func(*bus.ActivationMessage) (int, error) { return 0, ErrNoInvokers })
	})
	e.mustPut(t, "echo", helloAction)
	r := e.do(t, "POST", "/api/v1/namespaces/_/actions/echo", "")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := e.ctl.throttle.inFlight("guest"); n != 0 {
		t.Errorf("slot leaked: %d", n)
	}
	e.bus.Close()
	e2 := newEnv(t)
	e2.mustPut(t, "echo", helloAction)
	e2.bus.Close()
	if r := e2.do(t, "POST", "/api/v1/namespaces/_/actions/echo", ""); r.status != http.StatusServiceUnavailable {
		t.Fatalf("closed bus: %d %s", r.status, r.body)
	}
}
