package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
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

var update = flag.Bool("update", false, "rewrite golden files")

const testAuth = entity.GuestUUID + ":" + entity.GuestKey

// canned is one server answer.
type canned struct {
	status int
	file   string // under testdata/responses; "" for an empty body
	id     string // x-openwhisk-activation-id header
}

// seen is what the server received.
type seen struct {
	method, uri, auth, ctype, body string
}

// fakeServer answers every request with resp and records it.
func fakeServer(t *testing.T, resp canned) (*httptest.Server, *seen) {
	t.Helper()
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)}
		var body []byte
		if resp.file != "" {
			var err error
			if body, err = os.ReadFile(filepath.Join("testdata", "responses", resp.file)); err != nil {
				t.Error(err)
			}
		}
		if resp.id != "" {
			w.Header().Set("X-OpenWhisk-Activation-Id", resp.id)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestCalls(t *testing.T) {
	const id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	hello := &entity.Action{
		Name:       "hello",
		Exec:       entity.Exec{Kind: "nodejs:20", Code: "function main(p) { return p }", Digest: "ignored"},
		Parameters: entity.KeyValues{{Key: "name", Value: json.RawMessage(`"world"`)}},
		Limits:     entity.ActionLimits{Memory: 128},
	}
	tests := []struct {
		name    string
		resp    canned
		call    func(context.Context, *Client) (any, error)
		wantURI string // method and request URI
		body    string // request body, "" for none
	}{
		{"info", canned{200, "info.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Info(ctx) },
			"GET /api/v1", ""},
		{"namespaces", canned{200, "namespaces.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Namespaces(ctx) },
			"GET /api/v1/namespaces", ""},
		{"action_list", canned{200, "actions_list.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Actions.List(ctx, 10, 2) },
			"GET /api/v1/namespaces/_/actions?limit=2&skip=10", ""},
		{"action_list_defaults", canned{200, "actions_list.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Actions.List(ctx, 0, 0) },
			"GET /api/v1/namespaces/_/actions", ""},
		{"action_get", canned{200, "action.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Actions.Get(ctx, "hello", true) },
			"GET /api/v1/namespaces/_/actions/hello", ""},
		{"action_get_nocode_qualified", canned{200, "action.json", ""},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Get(ctx, "/guest/utils/hello", false)
			},
			"GET /api/v1/namespaces/guest/actions/utils/hello?code=false", ""},
		{"action_get_escaped", canned{200, "action.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Actions.Get(ctx, "my action", true) },
			"GET /api/v1/namespaces/_/actions/my%20action", ""},
		{"action_put", canned{200, "action.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Actions.Put(ctx, hello, false) },
			"PUT /api/v1/namespaces/_/actions/hello?overwrite=false",
			`{"exec":{"kind":"nodejs:20","code":"function main(p) { return p }","binary":false},"parameters":[{"key":"name","value":"world"}],"limits":{"memory":128}}`},
		{"action_put_params_only", canned{200, "action.json", ""},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Put(ctx, &entity.Action{Name: "hello", Annotations: entity.KeyValues{{Key: "web-export", Value: json.RawMessage("true")}}}, true)
			},
			"PUT /api/v1/namespaces/_/actions/hello?overwrite=true",
			`{"annotations":[{"key":"web-export","value":true}]}`},
		{"action_delete", canned{200, "action.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return nil, c.Actions.Delete(ctx, "hello") },
			"DELETE /api/v1/namespaces/_/actions/hello", ""},
		{"invoke_nonblocking", canned{202, "accepted.json", id},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "hello", nil, InvokeOptions{})
			},
			"POST /api/v1/namespaces/_/actions/hello?blocking=false", `{}`},
		{"invoke_blocking", canned{200, "activation.json", id},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "hello", json.RawMessage(`{"name":"stoke"}`), InvokeOptions{Blocking: true, Timeout: 5 * time.Second})
			},
			"POST /api/v1/namespaces/_/actions/hello?blocking=true&timeout=5000", `{"name":"stoke"}`},
		{"invoke_result", canned{200, "result.json", id},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "hello", json.RawMessage(`[1,2]`), InvokeOptions{Blocking: true, Result: true})
			},
			"POST /api/v1/namespaces/_/actions/hello?blocking=true&result=true", `[1,2]`},
		{"invoke_blocking_not_done", canned{202, "accepted.json", id},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "hello", nil, InvokeOptions{Blocking: true})
			},
			"POST /api/v1/namespaces/_/actions/hello?blocking=true", `{}`},
		{"invoke_app_error", canned{502, "activation_failed.json", ""},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "hello", nil, InvokeOptions{Blocking: true})
			},
			"POST /api/v1/namespaces/_/actions/hello?blocking=true", `{}`},
		{"invoke_app_error_result", canned{502, "result_error.json", "ffeeddccbbaa99887766554433221100"},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "hello", nil, InvokeOptions{Blocking: true, Result: true})
			},
			"POST /api/v1/namespaces/_/actions/hello?blocking=true&result=true", `{}`},
		{"invoke_platform_error", canned{500, "not_found.json", ""},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "hello", nil, InvokeOptions{Blocking: true})
			},
			"POST /api/v1/namespaces/_/actions/hello?blocking=true", `{}`},
		{"invoke_not_found", canned{404, "not_found.json", ""},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "nope", nil, InvokeOptions{Blocking: true})
			},
			"POST /api/v1/namespaces/_/actions/nope?blocking=true", `{}`},
		{"invoke_throttled", canned{429, "throttled.json", ""},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Actions.Invoke(ctx, "hello", nil, InvokeOptions{})
			},
			"POST /api/v1/namespaces/_/actions/hello?blocking=false", `{}`},
		{"activation_list", canned{200, "activations_list.json", ""},
			func(ctx context.Context, c *Client) (any, error) {
				return c.Activations.List(ctx, ActivationQuery{Name: "hello", Since: 1767225600000, Upto: 1767225700000, Skip: 1, Limit: 5, Docs: true})
			},
			"GET /api/v1/namespaces/_/activations?docs=true&limit=5&name=hello&since=1767225600000&skip=1&upto=1767225700000", ""},
		{"activation_get", canned{200, "activation.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Activations.Get(ctx, id) },
			"GET /api/v1/namespaces/_/activations/" + id, ""},
		{"activation_logs", canned{200, "logs.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Activations.Logs(ctx, id) },
			"GET /api/v1/namespaces/_/activations/" + id + "/logs", ""},
		{"activation_result", canned{200, "activation_result.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Activations.Result(ctx, id) },
			"GET /api/v1/namespaces/_/activations/" + id + "/result", ""},
		{"activation_get_not_found", canned{404, "not_found.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Activations.Get(ctx, "nope") },
			"GET /api/v1/namespaces/_/activations/nope", ""},
		{"unauthorized", canned{401, "unauthorized.json", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Namespaces(ctx) },
			"GET /api/v1/namespaces", ""},
		{"not_json_error", canned{503, "", ""},
			func(ctx context.Context, c *Client) (any, error) { return c.Namespaces(ctx) },
			"GET /api/v1/namespaces", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := fakeServer(t, tt.resp)
			c, err := New(srv.URL, testAuth)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tt.call(context.Background(), c)

			if uri := got.method + " " + got.uri; uri != tt.wantURI {
				t.Errorf("request = %q, want %q", uri, tt.wantURI)
			}
			if want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testAuth)); got.auth != want {
				t.Errorf("Authorization = %q, want %q", got.auth, want)
			}
			if got.body != tt.body {
				t.Errorf("body = %s\nwant   %s", got.body, tt.body)
			}
			if tt.body != "" && got.ctype != "application/json" {
				t.Errorf("Content-Type = %q", got.ctype)
			}

			// The golden file holds what the call returned, decoded.
			var res struct {
				Value any    `json:"value,omitempty"`
				Error string `json:"error,omitempty"`
			}
			if err != nil {
				res.Error = err.Error()
			} else {
				res.Value = out
			}
			b, jerr := json.MarshalIndent(res, "", "  ")
			if jerr != nil {
				t.Fatal(jerr)
			}
			golden(t, filepath.Join("testdata", "golden", tt.name+".json"), append(b, '\n'))
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestAPIError(t *testing.T) {
	srv, _ := fakeServer(t, canned{409, "conflict.json", ""})
	c, err := New(srv.URL, testAuth)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Actions.Put(context.Background(), &entity.Action{Name: "hello"}, false)
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	if ae.Status != 409 || ae.Message != "resource already exists" || ae.Code != "tid-409" {
		t.Errorf("APIError = %+v", *ae)
	}
	if want := "resource already exists (409 Conflict, code tid-409)"; ae.Error() != want {
		t.Errorf("Error() = %q, want %q", ae.Error(), want)
	}
	if !HasStatus(err, 409) || IsNotFound(err) {
		t.Error("HasStatus/IsNotFound disagree with the status")
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		host, auth, base, err string
	}{
		{"http://127.0.0.1:3233", testAuth, "http://127.0.0.1:3233/api/v1", ""},
		{"127.0.0.1:3233", testAuth, "http://127.0.0.1:3233/api/v1", ""},
		{"https://stoke.example/", "", "https://stoke.example/api/v1", ""},
		{"http://h:1/api/v1/", "", "http://h:1/api/v1", ""},
		{"http://h:1/prefix", "", "http://h:1/prefix/api/v1", ""},
		{"", testAuth, "", "api host is empty"},
		{"ftp://h", "", "", "scheme must be http or https"},
		{"http://", "", "", "no host"},
		{"h:1", "nocolon", "", `auth key must be "uuid:key"`},
		{"h:1", ":key", "", `auth key must be "uuid:key"`},
		{"h:1", "uuid:", "", `auth key must be "uuid:key"`},
	}
	for _, tt := range tests {
		t.Run(tt.host+"|"+tt.auth, func(t *testing.T) {
			c, err := New(tt.host, tt.auth)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL() != tt.base {
				t.Errorf("BaseURL = %q, want %q", c.BaseURL(), tt.base)
			}
		})
	}
}

func TestBadNames(t *testing.T) {
	c, err := New("127.0.0.1:1", testAuth)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"", "/guest", "a/b/c", "a//b", "/guest/", "//x"} {
		if _, err := c.Actions.Get(ctx, name, true); err == nil {
			t.Errorf("Get(%q) succeeded, want an error", name)
		}
	}
	if _, err := c.Activations.Get(ctx, ""); err == nil {
		t.Error("Activations.Get(\"\") succeeded")
	}
}

// TestKeepAlive checks that sequential calls reuse one connection.
func TestKeepAlive(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{} // client addresses seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		io.WriteString(w, `["guest"]`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, testAuth)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := c.Namespaces(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Errorf("20 calls came from %d connections, want 1", len(conns))
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(url, testAuth)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Namespaces(context.Background())
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Errorf("err = %v, want one that names %s", err, url)
	}
}
