package sdk

import (
	"encoding/json"
	"strings"
	"testing"
)

// The /run envelope is built once per activation on the warm path.
func BenchmarkRunBody(b *testing.B) {
	r := &Run{Value: json.RawMessage(`{"name":"bench","n":1}`), Namespace: "guest", ActionName: "/guest/echo",
		ActionVersion: "0.0.1", ActivationID: strings.Repeat("a", 32), TransactionID: strings.Repeat("b", 32),
		Deadline: "1790000000000", APIKey: strings.Repeat("k", 100)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RunBody(r); err != nil {
			b.Fatal(err)
		}
	}
}

// The /init envelope is built once per cold or prewarm start.
func BenchmarkInitBody(b *testing.B) {
	in := &Init{Name: "echo", Main: "main", Code: strings.Repeat("x", 4096),
		Env: map[string]string{"__OW_NAMESPACE": "guest", "__OW_ACTION_NAME": "/guest/echo", "__OW_DEADLINE": "1790000000000"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := InitBody(in); err != nil {
			b.Fatal(err)
		}
	}
}
