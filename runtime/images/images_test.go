package images_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stokehq/stoke/runtime/images"
)

// needDocker skips without docker, except in CI where its absence is a
// failure: the images are what the container backends run.
func needDocker(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "version").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker is required in CI: %v", err)
		}
		t.Skipf("docker not available: %v", err)
	}
}

func buildProxy(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "stoke-proxy")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "github.com/stokehq/stoke/cmd/stoke-proxy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build proxy: %v\n%s", err, b)
	}
	return out
}

// Builds the small native image into a temp root, runs it, then checks
// that a second build with nothing changed is fast and imports nothing.
func TestBuildNativeCached(t *testing.T) {
	needDocker(t)
	root := t.TempDir()
	var log bytes.Buffer
	opt := images.Options{Root: root, Repo: "../..", Proxy: buildProxy(t), Names: []string{"native"}, Log: &log}
	ctx := context.Background()
	first, err := images.Build(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	r := first[0]
	if r.ID == "" || !strings.HasPrefix(r.Image, "stoke/runtime-native:") {
		t.Fatalf("result = %+v", r)
	}
	for _, f := range []string{"rootfs/bin/proxy", "rootfs/bin/sh", "image-id", "image.json"} {
		if _, err := os.Stat(filepath.Join(root, "native", f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	var cfg images.Config
	b, _ := os.ReadFile(filepath.Join(root, "native", "image.json"))
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Labels["org.stoke.proxy-socket"] != "STOKE_PROXY_SOCKET" {
		t.Errorf("image.json = %s (%v)", b, err)
	}

	start := time.Now()
	second, err := images.Build(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); !second[0].Cached || second[0].Imported || second[0].ID != r.ID || el > time.Second {
		t.Errorf("rebuild = %+v in %v, want cached and fast", second[0], el)
	}
	if !strings.Contains(log.String(), "up to date") {
		t.Errorf("log = %s", log.String())
	}

	// The image serves the protocol on the socket named by the label.
	sockDir := t.TempDir()
	out, err := exec.Command("docker", "run", "-d", "--rm", "-v", sockDir+":/sock",
		"-e", "STOKE_PROXY_SOCKET=/sock/proxy.sock", r.Image).Output()
	if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
	sock := filepath.Join(sockDir, "proxy.sock")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	post := func(path, body string) (int, string) {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			resp, err := client.Post("http://sandbox"+path, "application/json", strings.NewReader(body))
			if err != nil {
				if time.Now().Before(deadline) {
					continue
				}
				t.Fatalf("POST %s: %v", path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
	}
	init, _ := json.Marshal(map[string]any{"value": map[string]string{"code": "#!/bin/sh\necho log\necho \"{\\\"args\\\":$1}\"\n"}})
	if st, body := post("/init", string(init)); st != 200 {
		t.Fatalf("init = %d %s", st, body)
	}
	if st, body := post("/run", `{"value":{"name":"Demo"}}`); st != 200 || body != `{"args":{"name":"Demo"}}` {
		t.Fatalf("run = %d %s", st, body)
	}
}
