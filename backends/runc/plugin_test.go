package runc

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stokehq/stoke/plugins"
	"github.com/stokehq/stoke/sdk"
)

// TestPlugin runs cmd/stoke-backend-runc as a real plugin: built, launched
// by the host side, driven over gRPC.
func TestPlugin(t *testing.T) {
	needRunc(t)
	cfg := testConfig(t, map[string]string{"host": "plugin"})
	bin := filepath.Join(filepath.Dir(cfg.StateRoot), "stoke-backend-runc")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/stoke-backend-runc").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := plugins.Launch(ctx, bin, plugins.Options{
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Env: []string{
			"STOKE_RUNC_KINDS=" + testKind + "=" + rootfs,
			"STOKE_RUNC_ROOT=" + cfg.StateRoot,
			"STOKE_RUNC_BUNDLES=" + cfg.BundleDir,
			"STOKE_RUNC_LABELS=host=plugin",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	info, err := p.Info(ctx)
	if err != nil || info.Name != "runc" || len(info.Kinds) != 1 || info.Kinds[0] != testKind {
		t.Fatalf("info %+v %v", info, err)
	}
	sb, err := p.Create(ctx, &sdk.Spec{Kind: testKind, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := p.Logs(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	c, err := sdk.Dial(sb.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x := &box{sb: sb, conn: c}
	x.init(t)
	var out map[string]any
	x.mustRun(t, `{"via":"plugin"}`, &out)
	if out["via"] != "plugin" {
		t.Errorf("reply %v", out)
	}
	if _, sentinels := activation(t, ls); sentinels["stdout"] != 1 || sentinels["stderr"] != 1 {
		t.Errorf("sentinels %v", sentinels)
	}
	if sbs, err := p.List(ctx, map[string]string{"host": "plugin"}); err != nil || len(sbs) != 1 {
		t.Errorf("list %v %v", sbs, err)
	}
	for range 2 {
		if err := p.Destroy(ctx, sb.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Destroy(ctx, "nope"); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("destroy unknown over gRPC: %v", err)
	}
	if _, err := p.Create(ctx, &sdk.Spec{Kind: "nope"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("unknown kind over gRPC: %v", err)
	}
}
