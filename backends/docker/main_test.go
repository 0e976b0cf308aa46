package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/stokehq/stoke/sdk"
)

// Test images, tagged per run so that concurrent runs do not remove each
// other's: the socket image carries SocketLabel, the port image does not.
var (
	runID       string
	socketImage string
	portImage   string
	socketDir   string // short, so socket paths fit a unix address
	skipReason  string // set when docker is absent outside CI
)

// testLabel marks every container of this run, for the final sweep.
const testLabel = "stoke.test"

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var id [4]byte
	_, _ = rand.Read(id[:])
	runID = hex.EncodeToString(id[:])
	socketImage = "stoke-test/proxy-socket:" + runID
	portImage = "stoke-test/proxy-port:" + runID

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		_, err = cli.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "docker tests: docker daemon unreachable and CI=true:", err)
			return 1
		}
		skipReason = "SKIPPING DOCKER BACKEND TESTS: docker daemon unreachable: " + err.Error()
		fmt.Fprintln(os.Stderr, "!!!", skipReason)
		return m.Run()
	}
	defer cli.Close()

	socketDir, err = os.MkdirTemp("", "sd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(socketDir)
	defer sweep(cli)
	if err := buildImages(ctx, cli); err != nil {
		fmt.Fprintln(os.Stderr, "docker tests:", err)
		return 1
	}
	return m.Run()
}

// buildImages builds testdata/testproxy static and imports it twice as a
// FROM-scratch image: no registry, no base image, a few MB.
func buildImages(ctx context.Context, cli *client.Client) error {
	dir, err := os.MkdirTemp("", "testproxy")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "proxy")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/testproxy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build testproxy: %v: %s", err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: now})
	tw.WriteHeader(&tar.Header{Name: "run/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now})
	tw.WriteHeader(&tar.Header{Name: "proxy", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(exe)), ModTime: now})
	tw.Write(exe)
	if err := tw.Close(); err != nil {
		return err
	}
	for ref, changes := range map[string][]string{
		socketImage: {`CMD ["/proxy"]`, "LABEL " + SocketLabel + "=/run/stoke/proxy.sock"},
		portImage:   {`CMD ["/proxy"]`},
	} {
		rc, err := cli.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(buf.Bytes()), SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
		if err != nil {
			return fmt.Errorf("import %s: %w", ref, err)
		}
		out, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || bytes.Contains(out, []byte(`"error"`)) {
			return fmt.Errorf("import %s: %v %s", ref, err, out)
		}
	}
	return nil
}

// sweep removes every container and image of this run.
func sweep(cli *client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, _ := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", testLabel+"="+runID))})
	for _, c := range cs {
		cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	for _, ref := range []string{socketImage, portImage} {
		cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
	}
}

func needDocker(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// newBackend returns a backend whose containers carry this run's test
// label, closed at the end of the test.
func newBackend(t testing.TB, cfg Config) *Backend {
	t.Helper()
	needDocker(t)
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	cfg.Labels[testLabel] = runID
	if cfg.SocketDir == "" {
		cfg.SocketDir = socketDir
	}
	if cfg.Images == nil {
		cfg.Images = map[string]string{"test:socket": socketImage, "test:port": portImage}
	}
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// sbox is a created sandbox with its connection.
type sbox struct {
	b    *Backend
	sb   *sdk.Sandbox
	conn sdk.Conn
}

func create(t testing.TB, b sdk.Backend, spec sdk.Spec) *sbox {
	t.Helper()
	if spec.MemoryMB == 0 {
		spec.MemoryMB = 64
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sb, err := b.Create(ctx, &spec)
	if err != nil {
		t.Fatalf("create %+v: %v", spec, err)
	}
	t.Cleanup(func() { b.Destroy(context.Background(), sb.ID) })
	c, err := sdk.Dial(sb.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	x := &sbox{sb: sb, conn: c}
	if db, ok := b.(*Backend); ok {
		x.b = db
	}
	return x
}

func (x *sbox) init(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, _ := sdk.InitBody(&sdk.Init{Name: "t", Main: "main", Code: "x"})
	r, err := x.conn.Init(ctx, body)
	if err != nil || r.Status != 200 {
		t.Fatalf("init: %v %+v", err, r)
	}
}

func (x *sbox) run(ctx context.Context, value any) (*sdk.Reply, error) {
	v, _ := json.Marshal(value)
	body, _ := sdk.RunBody(&sdk.Run{Value: v, ActivationID: "0123456789abcdef0123456789abcdef"})
	return x.conn.Run(ctx, body)
}

func (x *sbox) mustRun(t testing.TB, value any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := x.run(ctx, value)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if r.Status != 200 {
		t.Fatalf("run: status %d: %s", r.Status, r.Body)
	}
	var out map[string]any
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("run reply %q: %v", r.Body, err)
	}
	return out
}

// frame reads a log stream up to both sentinels and returns the lines
// before them.
func frame(t testing.TB, ls sdk.LogStream) []sdk.LogLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lines []sdk.LogLine
	for sentinels := 0; sentinels < 2; {
		l, err := ls.Next(ctx)
		if err != nil {
			t.Fatalf("logs after %d lines: %v", len(lines), err)
		}
		if l.Text == sdk.Sentinel {
			sentinels++
			continue
		}
		lines = append(lines, l)
	}
	return lines
}
