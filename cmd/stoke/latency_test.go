package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/entity"
)

// TestBusLatency measures warm blocking invocations of the wasm echo
// action over the in-memory bus and over Kafka (serve --embedded-kafka)
// in the same run, and logs the medians side by side.
func TestBusLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("latency comparison skipped in -short")
	}
	const n = 300
	medians := map[string]time.Duration{}
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"memory", nil},
		{"kafka", []string{"--embedded-kafka"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startServe(t, t.TempDir(), tc.flags...)
			do := func(method, path string, body any) (int, []byte) {
				b, _ := json.Marshal(body)
				req, _ := http.NewRequest(method, base+"/api/v1/namespaces/guest"+path, bytes.NewReader(b))
				req.SetBasicAuth(entity.GuestUUID, entity.GuestKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				out, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, out
			}
			code := base64.StdEncoding.EncodeToString(echoWasm)
			if s, b := do("PUT", "/actions/echo", map[string]any{"exec": map[string]any{"kind": "wasm", "code": code, "binary": true}}); s != 200 {
				t.Fatalf("deploy: %d %s", s, b)
			}
			lat := make([]time.Duration, 0, n)
			for i := 0; i < n+20; i++ {
				start := time.Now()
				s, b := do("POST", "/actions/echo?blocking=true&result=true", map[string]int{"i": i})
				d := time.Since(start)
				if s != 200 {
					t.Fatalf("invoke %d: %d %s", i, s, b)
				}
				if i >= 20 { // the first ones warm up sandbox, connections and topics
					lat = append(lat, d)
				}
			}
			slices.Sort(lat)
			medians[tc.name] = lat[len(lat)/2]
			t.Logf("%s bus: warm blocking invoke p50 %v, p90 %v, p99 %v (n=%d)", tc.name,
				lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)*99/100], len(lat))
		})
	}
	if m, k := medians["memory"], medians["kafka"]; m > 0 && k > 0 {
		t.Logf("median warm invoke: memory bus %v, kafka (embedded broker) %v, kafka adds %v", m, k, k-m)
	}
}
