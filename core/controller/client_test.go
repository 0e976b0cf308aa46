package controller

import (
	"net/url"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/stokehq/stoke/core/entity"
)

// TestOpenWhiskClient drives the API with openwhisk-client-go, the library
// behind the wsk CLI, to prove the shapes match what it sends and expects.
func TestOpenWhiskClient(t *testing.T) {
	e := newEnv(t)
	base, err := url.Parse(e.srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	c, err := whisk.NewClient(e.srv.Client(), &whisk.Config{
		Host: e.srv.URL, BaseURL: base, Namespace: "_",
		AuthToken: entity.GuestUUID + ":" + entity.GuestKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	code := "function main(a) { return a }"
	memory := 128
	a, _, err := c.Actions.Insert(&whisk.Action{
		Name:       "hello",
		Exec:       &whisk.Exec{Kind: "wasm", Code: &code},
		Parameters: whisk.KeyValueArr{{Key: "greeting", Value: "hi"}},
		Limits:     &whisk.Limits{Memory: &memory},
	}, false)
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	if a.Version != "0.0.1" || a.Namespace != "guest" {
		t.Errorf("insert returned %+v", a)
	}
	if _, _, err := c.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "wasm", Code: &code}}, false); err == nil {
		t.Error("second insert without overwrite succeeded")
	}

	got, _, err := c.Actions.Get("hello", true)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Exec == nil || got.Exec.Code == nil || *got.Exec.Code != code || *got.Limits.Memory != 128 {
		t.Errorf("get returned %+v", got)
	}

	list, _, err := c.Actions.List("", &whisk.ActionListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list) != 1 || list[0].Name != "hello" || list[0].Annotations.GetValue("exec") != "wasm" {
		t.Errorf("list returned %+v", list)
	}

	res, resp, err := c.Actions.Invoke("hello", map[string]any{"name": "Ada"}, true, true)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	m, ok := res.(map[string]any)
	if !ok || m["name"] != "Ada" || m["greeting"] != "hi" {
		t.Errorf("invoke result %v", res)
	}
	id := resp.Header.Get("x-openwhisk-activation-id")

	act, _, err := c.Activations.Get(id)
	if err != nil {
		t.Fatalf("activation get: %v", err)
	}
	if act.ActivationID != id || act.Name != "hello" || !act.Response.Success {
		t.Errorf("activation %+v", act)
	}
	acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: "hello"})
	if err != nil || len(acts) != 1 || acts[0].ActivationID != id {
		t.Errorf("activation list: %v %+v", err, acts)
	}
	if _, err := c.Actions.Delete("hello"); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, _, err := c.Actions.Get("hello", false); err == nil {
		t.Error("get after delete succeeded")
	}
}
