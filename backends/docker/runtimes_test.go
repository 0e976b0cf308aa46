package docker

import (
	"context"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// TestRuntimeImages runs a hello action in each Stoke runtime image that is
// present, checking that the hardening (no capabilities, no new
// privileges, pids and nofile limits) leaves the runtimes working. The
// images are built elsewhere (runtime/), so an absent one is skipped.
func TestRuntimeImages(t *testing.T) {
	b := newBackend(t, Config{Images: DefaultImages()})
	for _, tc := range []struct {
		kind string
		code string
	}{
		{"nodejs:20", "function main(p) { console.log('log ' + p.name); return {greeting: 'hi ' + p.name} }"},
		{"python:3", "def main(args):\n    print('log ' + args['name'])\n    return {'greeting': 'hi ' + args['name']}\n"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			if _, err := b.image(context.Background(), b.cfg.Images[tc.kind]); err != nil {
				t.Skipf("image %s not present: %v", b.cfg.Images[tc.kind], err)
			}
			x := create(t, b, sdk.Spec{Kind: tc.kind, MemoryMB: 256})
			ls, err := b.Logs(context.Background(), x.sb.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer ls.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			body, _ := sdk.InitBody(&sdk.Init{Name: "hello", Main: "main", Code: tc.code})
			if r, err := x.conn.Init(ctx, body); err != nil || r.Status != 200 {
				t.Fatalf("init: %v %+v", err, r)
			}
			if out := x.mustRun(t, map[string]any{"name": "stoke"}); out["greeting"] != "hi stoke" {
				t.Errorf("run: %v", out)
			}
			if lines := frame(t, ls); !hasText(lines, "log stoke") {
				t.Errorf("logs %+v", lines)
			}
		})
	}
}

func hasText(lines []sdk.LogLine, text string) bool {
	for _, l := range lines {
		if l.Text == text {
			return true
		}
	}
	return false
}
