package runc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// testKind is the kind the test rootfs is configured as.
const testKind = "test"

var (
	// rootfs is a root filesystem holding only the test proxy at /bin/proxy.
	rootfs string
	// skipReason is set when runc cannot run here (not root, no runc).
	skipReason string
	tmp        string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		skipReason = "runc tests need root"
	} else if _, err := exec.LookPath("runc"); err != nil {
		if _, err := os.Stat("/usr/sbin/runc"); err != nil {
			skipReason = "runc tests need the runc binary (apt-get install runc)"
		}
	}
	var err error
	tmp, err = os.MkdirTemp("", "rct")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	rootfs = filepath.Join(tmp, "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "run/stoke"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(rootfs, "bin", "proxy"), "./testdata/testproxy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the test proxy: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// needRunc skips a test that needs runc and root, loudly; with CI=true it
// fails instead, so CI cannot pass by skipping.
func needRunc(t testing.TB) {
	t.Helper()
	if skipReason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", skipReason)
	}
	t.Skipf("SKIPPING: %s", skipReason)
}

// testConfig is a Config on fresh state and bundle directories.
func testConfig(t testing.TB, labels map[string]string) Config {
	t.Helper()
	dir, err := os.MkdirTemp(tmp, "b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sweep(t, dir) })
	return Config{
		RootfsDirs: map[string]string{testKind: rootfs},
		StateRoot:  filepath.Join(dir, "state"),
		BundleDir:  filepath.Join(dir, "bundles"),
		Labels:     labels,
	}
}

// sweep deletes whatever containers a test left in its state root.
func sweep(t testing.TB, dir string) {
	root := filepath.Join(dir, "state")
	out, _ := exec.Command("runc", "--root", root, "list", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		t.Errorf("container %s left behind", id)
		exec.Command("runc", "--root", root, "delete", "--force", id).Run()
	}
	os.RemoveAll(dir)
}

func newBackend(t testing.TB, labels map[string]string) *Backend {
	t.Helper()
	needRunc(t)
	b, err := New(context.Background(), testConfig(t, labels))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return b
}

// box is a created sandbox with its connection.
type box struct {
	b    *Backend
	sb   *sdk.Sandbox
	conn sdk.Conn
}

func create(t testing.TB, b *Backend, spec sdk.Spec) *box {
	t.Helper()
	if spec.Kind == "" {
		spec.Kind = testKind
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sb, err := b.Create(ctx, &spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sdk.Dial(sb.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &box{b: b, sb: sb, conn: c}
}

func (x *box) init(t testing.TB) {
	t.Helper()
	body, err := sdk.InitBody(&sdk.Init{Name: "t", Main: "main", Code: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := x.conn.Init(ctx, body)
	if err != nil || r.Status != 200 {
		t.Fatalf("init: %v %+v", err, r)
	}
}

// run posts a /run with value and decodes the reply into out.
func (x *box) run(ctx context.Context, value string, out any) error {
	body, err := sdk.RunBody(&sdk.Run{Value: json.RawMessage(value), ActivationID: "a1"})
	if err != nil {
		return err
	}
	r, err := x.conn.Run(ctx, body)
	if err != nil {
		return err
	}
	if r.Status != 200 {
		return fmt.Errorf("status %d: %s", r.Status, r.Body)
	}
	if out != nil {
		return json.Unmarshal(r.Body, out)
	}
	return nil
}

func (x *box) mustRun(t testing.TB, value string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := x.run(ctx, value, out); err != nil {
		t.Fatalf("run %s: %v", value, err)
	}
}

func sdkSpec() sdk.Spec { return sdk.Spec{Kind: testKind, MemoryMB: 128} }
