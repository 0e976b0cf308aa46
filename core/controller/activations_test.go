package controller

import (
	"strings"
	"testing"
)

func TestActivations(t *testing.T) {
	e := newEnv(t)
	e.mustPut(t, "echo", helloAction)
	e.mustPut(t, "queued", helloAction)
	var ids []string
	for i := 0; i < 3; i++ {
		r := e.do(t, "POST", "/api/v1/namespaces/_/actions/echo?blocking=true", `{"i":1}`)
		if r.status != 200 {
			t.Fatalf("invoke: %d %s", r.status, r.body)
		}
		ids = append(ids, r.header.Get("x-openwhisk-activation-id"))
	}
	r := e.do(t, "POST", "/api/v1/namespaces/_/actions/queued?blocking=true", ``)
	queued := r.header.Get("x-openwhisk-activation-id")
	const base = "/api/v1/namespaces/_/activations"
	id := ids[0]

	golden(t, "get", e.do(t, "GET", base+"/"+id, "").body)
	golden(t, "logs", e.do(t, "GET", base+"/"+id+"/logs", "").body)
	golden(t, "result", e.do(t, "GET", base+"/"+id+"/result", "").body)
	golden(t, "list", e.do(t, "GET", base+"?limit=1", "").body)
	golden(t, "list-docs", e.do(t, "GET", base+"?docs=true&limit=1&name=echo", "").body)

	tests := []struct {
		name, user, key, path string
		want                  int
		contains              string
	}{
		{"queued record", "", "", base + "/" + queued, 200, `"name":"queued"`},
		{"count", "", "", base + "?count=true", 200, `{"activations":3}`},
		{"count by name", "", "", base + "?count=true&name=echo", 200, `{"activations":3}`},
		{"list by name", "", "", base + "?name=nope", 200, `[]`},
		{"since future", "", "", base + "?since=99999999999999", 200, `[]`},
		{"docs with count", "", "", base + "?docs=true&count=true", 400, "The parameter 'docs' is not permitted with 'count'."},
		{"bad since", "", "", base + "?since=yesterday", 400, "'since'"},
		{"bad name", "", "", base + "?name=-x", 400, "not a valid name"},
		{"bad limit", "", "", base + "?limit=500", 400, "0 to 200"},
		{"bad id", "", "", base + "/xyz", 400, "not valid"},
		{"unknown id", "", "", base + "/" + strings.Repeat("0", 32), 404, "does not exist"},
		{"unknown part", "", "", base + "/" + id + "/more", 404, "does not exist"},
		{"other tenant", other.UUID, other.Key, base + "/" + id, 404, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, key := tt.user, tt.key
			if user == "" {
				user, key = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
			}
			r := e.doAs(t, user, key, "GET", tt.path, "")
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if !strings.Contains(string(r.body), tt.contains) {
				t.Errorf("body %s does not contain %s", r.body, tt.contains)
			}
		})
	}
	if r := e.do(t, "DELETE", base+"/"+id, ""); r.status != 405 {
		t.Errorf("DELETE activation: %d", r.status)
	}
}
