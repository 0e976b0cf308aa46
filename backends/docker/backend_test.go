package docker

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

func TestInfo(t *testing.T) {
	b := newBackend(t, Config{Images: map[string]string{
		"test:socket": socketImage,
		"test:port":   portImage,
		"absent":      "stoke-test/absent:" + runID,
	}})
	info, err := b.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "docker" || info.APIVersion != sdk.APIVersion {
		t.Errorf("info %+v", info)
	}
	if want := []string{"test:port", "test:socket"}; !slices.Equal(info.Kinds, want) {
		t.Errorf("kinds %v, want %v (absent images left out)", info.Kinds, want)
	}
	c := info.Capabilities
	if !c.Pause || !c.MemoryLimit || !c.Network || c.Prepare {
		t.Errorf("capabilities %+v", c)
	}
}

func TestCreateRun(t *testing.T) {
	b := newBackend(t, Config{})
	for _, tc := range []struct {
		name   string
		spec   sdk.Spec
		scheme string
	}{
		{"socket", sdk.Spec{Kind: "test:socket", Name: "guest/hello world"}, "unix://"},
		{"port", sdk.Spec{Kind: "test:port"}, "http://127.0.0.1:"},
		{"blackbox", sdk.Spec{Kind: "blackbox", Image: portImage}, "http://127.0.0.1:"},
		{"socket without network", sdk.Spec{Kind: "test:socket", Network: "none"}, "unix://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := create(t, b, tc.spec)
			if !strings.HasPrefix(x.sb.Endpoint, tc.scheme) {
				t.Fatalf("endpoint %q, want prefix %q", x.sb.Endpoint, tc.scheme)
			}
			x.init(t)
			out := x.mustRun(t, map[string]any{"hello": "world"})
			if out["hello"] != "world" {
				t.Errorf("run echoed %v", out)
			}
			if x.sb.Labels[testLabel] != runID || x.sb.Labels[labelManaged] != "" {
				t.Errorf("labels %v", x.sb.Labels)
			}
		})
	}
}

func TestCreateLimits(t *testing.T) {
	b := newBackend(t, Config{PidsLimit: 77})
	x := create(t, b, sdk.Spec{Kind: "test:socket", MemoryMB: 48, Env: map[string]string{"A": "b"}})
	ins, err := b.cli.ContainerInspect(context.Background(), x.sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	hc := ins.HostConfig
	if hc.Memory != 48<<20 || hc.MemorySwap != 48<<20 {
		t.Errorf("memory %d swap %d", hc.Memory, hc.MemorySwap)
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != 77 {
		t.Errorf("pids limit %v", hc.PidsLimit)
	}
	if !slices.Equal(hc.CapDrop, []string{"ALL"}) || !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("capdrop %v secopt %v", hc.CapDrop, hc.SecurityOpt)
	}
	if len(hc.Ulimits) != 1 || hc.Ulimits[0].Name != "nofile" || hc.Ulimits[0].Hard != 1024 {
		t.Errorf("ulimits %v", hc.Ulimits)
	}
	if !slices.Contains(ins.Config.Env, "A=b") || !strings.HasPrefix(ins.Name, "/stoke_") {
		t.Errorf("env %v name %s", ins.Config.Env, ins.Name)
	}
}

func TestCreateErrors(t *testing.T) {
	b := newBackend(t, Config{})
	missing := "stoke-test/missing:" + runID
	for _, tc := range []struct {
		name string
		spec *sdk.Spec
		want error
		msg  string
	}{
		{"nil spec", nil, sdk.ErrInvalid, ""},
		{"unknown kind", &sdk.Spec{Kind: "cobol"}, sdk.ErrUnsupported, ""},
		{"missing image", &sdk.Spec{Kind: "blackbox", Image: missing}, sdk.ErrInvalid, "Failed to pull container image '" + missing + "'."},
		{"tiny memory", &sdk.Spec{Kind: "test:socket", MemoryMB: 2}, sdk.ErrInvalid, ""},
		{"bad env", &sdk.Spec{Kind: "test:socket", Env: map[string]string{"A=B": "c"}}, sdk.ErrInvalid, ""},
		{"port image without network", &sdk.Spec{Kind: "test:port", Network: "none"}, sdk.ErrInvalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, err := b.Create(context.Background(), tc.spec)
			if err == nil {
				b.Destroy(context.Background(), sb.ID)
				t.Fatal("created")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("message %q, want %q", err.Error(), tc.msg)
			}
		})
	}
	if n := len(dirEntries(t, socketDir)); n != 0 {
		t.Errorf("%d socket dirs left behind", n)
	}
}

func dirEntries(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestPauseResume(t *testing.T) {
	b := newBackend(t, Config{})
	for _, kind := range []string{"test:socket", "test:port"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			x := create(t, b, sdk.Spec{Kind: kind})
			x.init(t)
			x.mustRun(t, map[string]any{"n": 1})
			if err := b.Pause(ctx, x.sb.ID); err != nil {
				t.Fatal(err)
			}
			if err := b.Pause(ctx, x.sb.ID); err != nil {
				t.Errorf("second pause: %v", err)
			}
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			r, err := x.run(short, map[string]any{"n": 2})
			cancel()
			if err == nil {
				t.Fatalf("paused sandbox answered %d %s", r.Status, r.Body)
			}
			if err := b.Resume(ctx, x.sb.ID); err != nil {
				t.Fatal(err)
			}
			if err := b.Resume(ctx, x.sb.ID); err != nil {
				t.Errorf("second resume: %v", err)
			}
			if out := x.mustRun(t, map[string]any{"n": 3}); out["n"] != 3.0 {
				t.Errorf("after resume: %v", out)
			}
		})
	}
}

func TestDestroy(t *testing.T) {
	b := newBackend(t, Config{})
	ctx := context.Background()
	x := create(t, b, sdk.Spec{Kind: "test:socket"})
	dir := strings.TrimSuffix(strings.TrimPrefix(x.sb.Endpoint, "unix://"), "/"+socketFile)
	if err := b.Destroy(ctx, x.sb.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Destroy(ctx, x.sb.ID); err != nil {
		t.Errorf("second destroy: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("socket dir %s still there: %v", dir, err)
	}
	if _, err := b.cli.ContainerInspect(ctx, x.sb.ID); err == nil {
		t.Error("container still there")
	}
	for _, id := range []string{"nope", "", strings.Repeat("0", 64), x.sb.ID[:12]} {
		for name, op := range map[string]func(context.Context, string) error{"destroy": b.Destroy, "pause": b.Pause, "resume": b.Resume} {
			if err := op(ctx, id); !errors.Is(err, sdk.ErrNotFound) {
				t.Errorf("%s(%q): %v, want ErrNotFound", name, id, err)
			}
		}
		if _, err := b.Logs(ctx, id); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("logs(%q): %v, want ErrNotFound", id, err)
		}
	}
}

// TestDestroyForeign checks that a backend only touches its own
// containers, even when they are named by a prefix.
func TestDestroyForeign(t *testing.T) {
	b := newBackend(t, Config{})
	x := create(t, b, sdk.Spec{Kind: "test:socket"})
	other := newBackend(t, Config{})
	if err := other.Destroy(context.Background(), x.sb.ID[:20]); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("destroy by prefix: %v", err)
	}
	// A fresh backend may remove a full id of ours (recovery after a restart).
	if err := other.Destroy(context.Background(), x.sb.ID); err != nil {
		t.Errorf("destroy from another instance: %v", err)
	}
}

func TestLogs(t *testing.T) {
	b := newBackend(t, Config{})
	ctx := context.Background()
	x := create(t, b, sdk.Spec{Kind: "test:socket"})
	ls, err := b.Logs(ctx, x.sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	x.init(t)
	start := time.Now().Add(-time.Second)
	for i, msgs := range [][]string{{"one", "two"}, {}, {"three"}} {
		x.mustRun(t, map[string]any{"log": msgs})
		lines := frame(t, ls)
		var got []string
		for _, l := range lines {
			got = append(got, l.Stream+":"+l.Text)
			if l.Time.Before(start) || l.Time.After(time.Now().Add(time.Second)) {
				t.Errorf("line %+v: time off", l)
			}
		}
		var want []string
		for _, m := range msgs {
			want = append(want, "stdout:"+m, "stderr:"+m)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("activation %d: lines %q, want %q", i, got, want)
		}
	}
	// Destroy ends the stream.
	if err := b.Destroy(ctx, x.sb.ID); err != nil {
		t.Fatal(err)
	}
	end, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		l, err := ls.Next(end)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after destroy: %v", err)
		}
		if l.Text == OOMMessage {
			t.Errorf("OOM line from a destroyed sandbox")
		}
	}
}

func TestOOM(t *testing.T) {
	b := newBackend(t, Config{})
	ctx := context.Background()
	x := create(t, b, sdk.Spec{Kind: "test:socket", MemoryMB: 32})
	ls, err := b.Logs(ctx, x.sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	x.init(t)
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if r, err := x.run(rctx, map[string]any{"mode": "oom"}); err == nil {
		t.Fatalf("oom run answered %d %s", r.Status, r.Body)
	} else if !errors.Is(err, sdk.ErrConnection) {
		t.Errorf("oom run: %v, want ErrConnection", err)
	}
	var last sdk.LogLine
	for {
		l, err := ls.Next(rctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("logs: %v", err)
		}
		last = l
	}
	if last.Stream != "stderr" || last.Text != OOMMessage {
		t.Errorf("last line %+v, want stderr %q", last, OOMMessage)
	}
}

func TestPidsLimit(t *testing.T) {
	b := newBackend(t, Config{PidsLimit: 40})
	x := create(t, b, sdk.Spec{Kind: "test:socket"})
	x.init(t)
	out := x.mustRun(t, map[string]any{"mode": "spawn", "n": 200})
	t.Logf("spawned %v before %q", out["spawned"], out["failure"])
	if n, _ := out["spawned"].(float64); n >= 40 || out["failure"] == "" {
		t.Errorf("pids limit not enforced: %v", out)
	}
	// The sandbox survives hitting the limit.
	x.mustRun(t, map[string]any{"ok": 1})
}

func TestListCleanup(t *testing.T) {
	dead := "dead-" + runID
	ctx := context.Background()
	old := newBackend(t, Config{Labels: map[string]string{"stoke.host": dead}})
	a := create(t, old, sdk.Spec{Kind: "test:socket", Labels: map[string]string{"role": "a"}})
	bb := create(t, old, sdk.Spec{Kind: "test:port", Labels: map[string]string{"role": "b"}})
	live := newBackend(t, Config{Labels: map[string]string{"stoke.host": "live-" + runID}})
	keep := create(t, live, sdk.Spec{Kind: "test:socket"})

	for _, tc := range []struct {
		b      *Backend
		labels map[string]string
		want   []string
	}{
		{old, map[string]string{"stoke.host": dead}, []string{a.sb.ID, bb.sb.ID}},
		{old, map[string]string{"role": "b"}, []string{bb.sb.ID}},
		{live, map[string]string{testLabel: runID}, []string{keep.sb.ID}},
		// A backend lists only its own host's sandboxes.
		{live, map[string]string{"stoke.host": dead}, nil},
		{old, map[string]string{"stoke.host": "nobody"}, nil},
	} {
		sbs, err := tc.b.List(ctx, tc.labels)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sb := range sbs {
			got = append(got, sb.ID)
			want := map[string]*sbox{a.sb.ID: a, bb.sb.ID: bb, keep.sb.ID: keep}[sb.ID]
			if want != nil && (sb.Endpoint != want.sb.Endpoint || sb.Kind != want.sb.Kind || sb.MemoryMB != want.sb.MemoryMB) {
				t.Errorf("listed %+v, created %+v", sb, want.sb)
			}
		}
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("list %v: %v, want %v", tc.labels, got, tc.want)
		}
	}

	// A restarted host with the dead host's labels starts clean.
	newBackend(t, Config{Labels: map[string]string{"stoke.host": dead}, CleanupOrphans: true})
	if sbs, _ := old.List(ctx, nil); len(sbs) != 0 {
		t.Errorf("orphans left: %d", len(sbs))
	}
	if _, err := os.Stat(strings.TrimPrefix(a.sb.Endpoint, "unix://")); !os.IsNotExist(err) {
		t.Errorf("orphan socket dir left: %v", err)
	}
	if sbs, _ := live.List(ctx, nil); len(sbs) != 1 {
		t.Errorf("clean-up touched another host's sandboxes: %d left", len(sbs))
	}
	keep.mustRun(t, map[string]any{"still": "here"})
}

func TestConcurrentCreate(t *testing.T) {
	b := newBackend(t, Config{})
	const n = 8
	var wg sync.WaitGroup
	boxes := make([]*sbox, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kind := "test:socket"
			if i%2 == 1 {
				kind = "test:port"
			}
			boxes[i] = create(t, b, sdk.Spec{Kind: kind})
		}()
	}
	wg.Wait()
	t.Logf("%d concurrent creates in %v", n, time.Since(start))
	if t.Failed() {
		return
	}
	seen := map[string]bool{}
	for i, x := range boxes {
		if seen[x.sb.Endpoint] {
			t.Errorf("endpoint %s twice", x.sb.Endpoint)
		}
		seen[x.sb.Endpoint] = true
		x.init(t)
		if out := x.mustRun(t, map[string]any{"i": i}); out["i"] != float64(i) {
			t.Errorf("box %d: %v", i, out)
		}
	}
}
