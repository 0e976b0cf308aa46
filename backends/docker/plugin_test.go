package docker

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stokehq/stoke/plugins"
	"github.com/stokehq/stoke/sdk"
)

// TestPlugin runs the backend the way stoke serve does: the
// cmd/stoke-backend-docker binary launched as a go-plugin.
func TestPlugin(t *testing.T) {
	needDocker(t)
	bin := filepath.Join(t.TempDir(), "stoke-backend-docker")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/stoke-backend-docker").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := plugins.Launch(ctx, bin, plugins.Options{Env: []string{
		"STOKE_DOCKER_IMAGES=test:socket=" + socketImage + ",test:port=" + portImage,
		"STOKE_DOCKER_SOCKET_DIR=" + socketDir,
		"STOKE_DOCKER_LABELS=" + testLabel + "=" + runID + ",stoke.host=plugin-" + runID,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	info, err := p.Info(ctx)
	if err != nil || info.Name != "docker" || len(info.Kinds) != 2 {
		t.Fatalf("info %+v %v", info, err)
	}
	for _, kind := range []string{"test:socket", "test:port"} {
		t.Run(kind, func(t *testing.T) {
			x := create(t, p, sdk.Spec{Kind: kind})
			ls, err := p.Logs(ctx, x.sb.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer ls.Close()
			x.init(t)
			if out := x.mustRun(t, map[string]any{"log": []string{"hi"}}); out["log"] == nil {
				t.Errorf("run %v", out)
			}
			if lines := frame(t, ls); len(lines) != 2 {
				t.Errorf("lines %+v", lines)
			}
			if sbs, err := p.List(ctx, map[string]string{"stoke.host": "plugin-" + runID}); err != nil || len(sbs) != 1 {
				t.Errorf("list: %d %v", len(sbs), err)
			}
			if err := p.Destroy(ctx, x.sb.ID); err != nil {
				t.Fatal(err)
			}
			if err := p.Destroy(ctx, x.sb.ID); err != nil {
				t.Errorf("second destroy: %v", err)
			}
		})
	}
	_, err = p.Create(ctx, &sdk.Spec{Kind: "blackbox", Image: "stoke-test/missing:" + runID, MemoryMB: 64})
	if want := "Failed to pull container image 'stoke-test/missing:" + runID + "'."; err == nil || err.Error() != want {
		t.Errorf("missing image over the plugin: %v, want %q", err, want)
	}
}
