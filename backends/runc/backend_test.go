package runc

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

func TestInfo(t *testing.T) {
	b := newBackend(t, nil)
	info, err := b.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "runc" || info.APIVersion != sdk.APIVersion || !reflect.DeepEqual(info.Kinds, []string{testKind}) {
		t.Errorf("info = %+v", info)
	}
	// This machine has memory and freezer cgroups (v1); a host without
	// them must not claim the capabilities.
	if info.Capabilities.Pause != b.cg.freezer || info.Capabilities.MemoryLimit != b.cg.memory {
		t.Errorf("capabilities %+v, cgroups %+v", info.Capabilities, b.cg)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil && !info.Capabilities.MemoryLimit {
		t.Error("memory cgroup present but MemoryLimit false")
	}
	t.Logf("cgroups: v2=%v memory=%v pids=%v freezer=%v", b.cg.v2, b.cg.memory, b.cg.pids, b.cg.freezer)
}

func TestNewRejects(t *testing.T) {
	needRunc(t)
	cases := []struct {
		name string
		edit func(*Config)
	}{
		{"missing rootfs", func(c *Config) { c.RootfsDirs = map[string]string{"x": "/nonexistent"} }},
		{"empty kind", func(c *Config) { c.RootfsDirs = map[string]string{"": rootfs} }},
		{"no runc", func(c *Config) { c.Runc = "/nonexistent/runc" }},
		{"long bundle dir", func(c *Config) { c.BundleDir = "/tmp/" + strings.Repeat("x", 80) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, nil)
			tc.edit(&cfg)
			if _, err := New(context.Background(), cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestCreateRejects(t *testing.T) {
	b := newBackend(t, nil)
	cases := []struct {
		name string
		spec *sdk.Spec
		want error
	}{
		{"nil spec", nil, sdk.ErrInvalid},
		{"unknown kind", &sdk.Spec{Kind: "cobol:85"}, sdk.ErrUnsupported},
		{"negative memory", &sdk.Spec{Kind: testKind, MemoryMB: -1}, sdk.ErrInvalid},
		{"env key with =", &sdk.Spec{Kind: testKind, Env: map[string]string{"A=B": "c"}}, sdk.ErrInvalid},
		{"env with NUL", &sdk.Spec{Kind: testKind, Env: map[string]string{"A": "b\x00"}}, sdk.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Create(context.Background(), tc.spec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if ents, _ := os.ReadDir(b.cfg.BundleDir); len(ents) != 0 {
		t.Errorf("rejected creates left %d bundles", len(ents))
	}
}

func TestInitRun(t *testing.T) {
	b := newBackend(t, map[string]string{"host": "h"})
	x := create(t, b, sdk.Spec{Kind: testKind, MemoryMB: 128, Env: map[string]string{"__OW_API_HOST": "http://api"}})
	if !strings.HasPrefix(x.sb.Endpoint, "unix://"+b.cfg.BundleDir) || x.sb.Kind != testKind || x.sb.MemoryMB != 128 {
		t.Errorf("sandbox = %+v", x.sb)
	}
	x.init(t)
	var echo map[string]any
	x.mustRun(t, `{"hello":"world"}`, &echo)
	if echo["hello"] != "world" {
		t.Errorf("echo = %v", echo)
	}
	var env map[string]string
	x.mustRun(t, `{"mode":"env"}`, &env)
	if env["__OW_API_HOST"] != "http://api" || env["STOKE_PROXY_SOCKET"] != "/run/stoke/proxy.sock" {
		t.Errorf("env = %v", env)
	}
	cases := []struct {
		path string
		ok   bool
	}{
		{"/tmp/x", true},
		{"/bin/x", false}, // the shared rootfs is read-only
		{"/x", false},
	}
	for _, tc := range cases {
		var w struct {
			Written bool   `json:"written"`
			Error   string `json:"error"`
		}
		x.mustRun(t, `{"mode":"write","path":"`+tc.path+`"}`, &w)
		if w.Written != tc.ok {
			t.Errorf("write %s: %+v, want written=%v", tc.path, w, tc.ok)
		}
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin", "x")); err == nil {
		t.Error("a sandbox wrote into the shared rootfs")
	}
}

func TestPauseResume(t *testing.T) {
	b := newBackend(t, nil)
	ctx := context.Background()
	x := create(t, b, sdkSpec())
	x.init(t)
	x.mustRun(t, `{}`, nil)
	if err := b.Pause(ctx, x.sb.ID); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := x.run(short, `{}`, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run while paused: err = %v, want a timeout", err)
	}
	if err := b.Resume(ctx, x.sb.ID); err != nil {
		t.Fatal(err)
	}
	x.mustRun(t, `{"again":1}`, nil)
	for _, op := range []func(context.Context, string) error{b.Pause, b.Resume} {
		if err := op(ctx, "stoke-nope-1"); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	}
}

func TestDestroy(t *testing.T) {
	b := newBackend(t, nil)
	ctx := context.Background()
	x := create(t, b, sdkSpec())
	paused := create(t, b, sdkSpec())
	if err := b.Pause(ctx, paused.sb.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{x.sb.ID, paused.sb.ID} {
		for i := range 2 {
			if err := b.Destroy(ctx, id); err != nil {
				t.Fatalf("destroy %s #%d: %v", id, i+1, err)
			}
		}
		if _, err := os.Stat(b.bundleOf(id).dir); !os.IsNotExist(err) {
			t.Errorf("bundle of %s still there: %v", id, err)
		}
		if err := b.Pause(ctx, id); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("pause after destroy: %v", err)
		}
		if _, err := b.Logs(ctx, id); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("logs after destroy: %v", err)
		}
	}
	if cs, err := b.list(ctx); err != nil || len(cs) != 0 {
		t.Errorf("runc list after destroy: %v %v", cs, err)
	}
	for _, id := range []string{"nope", "", "..", "../../etc", "stoke-" + b.tag + "-999"} {
		if err := b.Destroy(ctx, id); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("destroy %q: %v, want ErrNotFound", id, err)
		}
	}
}

// activation reads one activation's lines: up to both sentinels.
func activation(t *testing.T, ls sdk.LogStream) (lines []sdk.LogLine, sentinels map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sentinels = map[string]int{}
	for sentinels["stdout"]+sentinels["stderr"] < 2 {
		l, err := ls.Next(ctx)
		if err != nil {
			t.Fatalf("logs after %v: %v", lines, err)
		}
		if l.Time.IsZero() {
			t.Errorf("line without time: %+v", l)
		}
		if l.Text == sdk.Sentinel {
			sentinels[l.Stream]++
			continue
		}
		lines = append(lines, l)
	}
	return lines, sentinels
}

func TestLogs(t *testing.T) {
	b := newBackend(t, nil)
	ctx := context.Background()
	x := create(t, b, sdkSpec())
	ls, err := b.Logs(ctx, x.sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	x.init(t)
	for _, v := range []string{`{"n":1}`, `{"n":2}`} {
		x.mustRun(t, v, nil)
		lines, sentinels := activation(t, ls)
		if sentinels["stdout"] != 1 || sentinels["stderr"] != 1 {
			t.Errorf("sentinels %v", sentinels)
		}
		want := []sdk.LogLine{{Stream: "stdout", Text: "run " + v}, {Stream: "stderr", Text: "stderr line"}}
		for _, w := range want {
			if !slices.ContainsFunc(lines, func(l sdk.LogLine) bool { return l.Stream == w.Stream && l.Text == w.Text }) {
				t.Errorf("no %s line %q in %+v", w.Stream, w.Text, lines)
			}
		}
	}
	if err := b.Destroy(ctx, x.sb.ID); err != nil {
		t.Fatal(err)
	}
	next, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := ls.Next(next); err != io.EOF {
		t.Errorf("Next after destroy: %v, want io.EOF", err)
	}
	if _, err := b.Logs(ctx, "nope"); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("logs of unknown id: %v", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	b := newBackend(t, nil)
	if !b.cg.memory {
		t.Skip("SKIPPING: no memory cgroup on this host")
	}
	ctx := context.Background()
	x := create(t, b, sdk.Spec{Kind: testKind, MemoryMB: 64})
	ls, err := b.Logs(ctx, x.sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	x.init(t)
	run, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := x.run(run, `{"mode":"oom"}`, nil); !errors.Is(err, sdk.ErrConnection) {
		t.Fatalf("run: %v, want a connection error", err)
	}
	var last sdk.LogLine
	for {
		l, err := ls.Next(run)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = l
	}
	if last.Stream != "stderr" || last.Text != OOMMessage {
		t.Errorf("last line %+v, want the OOM message", last)
	}
}

func TestPidsLimit(t *testing.T) {
	b := newBackend(t, nil)
	if !b.cg.pids {
		t.Skip("SKIPPING: no pids cgroup on this host")
	}
	x := create(t, b, sdk.Spec{Kind: testKind, MemoryMB: 256})
	x.init(t)
	var out struct {
		Started int    `json:"started"`
		Error   string `json:"error"`
	}
	x.mustRun(t, `{"mode":"spawn","n":2000}`, &out)
	if out.Started >= DefaultPidsLimit || out.Started < DefaultPidsLimit/2 || out.Error == "" {
		t.Errorf("spawn: %+v, want fewer than %d processes and an error", out, DefaultPidsLimit)
	}
	t.Logf("spawn stopped after %d: %s", out.Started, out.Error)
}

func TestNetworkIsolation(t *testing.T) {
	b := newBackend(t, nil)
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	addrs := []string{net.JoinHostPort("127.0.0.1", itoa(port))}
	if ip := hostIP(); ip != "" {
		addrs = append(addrs, net.JoinHostPort(ip, itoa(port)))
	}
	x := create(t, b, sdkSpec())
	x.init(t)
	for _, addr := range addrs {
		// The listener answers on the host...
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("host cannot reach its own listener %s: %v", addr, err)
		}
		c.Close()
		// ...but not in the sandbox.
		var out struct {
			Connected bool   `json:"connected"`
			Error     string `json:"error"`
		}
		x.mustRun(t, `{"mode":"dial","addr":"`+addr+`"}`, &out)
		if out.Connected {
			t.Errorf("the sandbox reached %s on the host", addr)
		}
		t.Logf("dial %s from the sandbox: %s", addr, out.Error)
	}
}

func hostIP() string {
	as, _ := net.InterfaceAddrs()
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestList(t *testing.T) {
	b := newBackend(t, map[string]string{"host": "h1"})
	ctx := context.Background()
	a := create(t, b, sdk.Spec{Kind: testKind, Labels: map[string]string{"action": "a"}})
	c := create(t, b, sdk.Spec{Kind: testKind, Labels: map[string]string{"action": "c"}})
	ids := func(labels map[string]string) []string {
		sbs, err := b.List(ctx, labels)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sb := range sbs {
			out = append(out, sb.ID)
		}
		sort.Strings(out)
		return out
	}
	both := []string{a.sb.ID, c.sb.ID}
	sort.Strings(both)
	cases := []struct {
		labels map[string]string
		want   []string
	}{
		{nil, both},
		{map[string]string{"host": "h1"}, both},
		{map[string]string{"action": "a"}, []string{a.sb.ID}},
		{map[string]string{"action": "a", "host": "h1"}, []string{a.sb.ID}},
		{map[string]string{"action": "a", "host": "h2"}, nil},
	}
	for _, tc := range cases {
		if got := ids(tc.labels); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
	sbs, _ := b.List(ctx, map[string]string{"action": "a"})
	if len(sbs) == 1 && (sbs[0].Endpoint != a.sb.Endpoint || sbs[0].Labels["host"] != "h1" || len(sbs[0].State) == 0) {
		t.Errorf("listed %+v, created %+v", sbs[0], a.sb)
	}
	if err := b.Destroy(ctx, a.sb.ID); err != nil {
		t.Fatal(err)
	}
	if got := ids(nil); !reflect.DeepEqual(got, []string{c.sb.ID}) {
		t.Errorf("after destroy: %v", got)
	}
}

func TestOrphans(t *testing.T) {
	needRunc(t)
	ctx := context.Background()
	cfg := testConfig(t, map[string]string{"host": "h1"})
	crashed, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	orphan := create(t, crashed, sdkSpec())
	otherCfg := cfg
	otherCfg.Labels = map[string]string{"host": "h2"}
	other, err := New(ctx, otherCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(ctx) })
	foreign := create(t, other, sdkSpec())

	// A restart of host h1: the old process is gone, its sandbox is not.
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(ctx) })
	cs, err := b.list(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].ID != foreign.sb.ID {
		t.Errorf("containers after clean-up: %+v, want only %s", cs, foreign.sb.ID)
	}
	if _, err := os.Stat(crashed.bundleOf(orphan.sb.ID).dir); !os.IsNotExist(err) {
		t.Errorf("orphan's bundle still there: %v", err)
	}
	// A backend lists only its own host's sandboxes: h1 does not see h2's.
	if sbs, err := b.List(ctx, map[string]string{"host": "h2"}); err != nil || len(sbs) != 0 {
		t.Fatalf("h1 listing h2's sandboxes: %v %v", sbs, err)
	}
	// h2's own view lists it, and a sandbox found by List can be
	// destroyed, as a host does with the leftovers it finds.
	sbs, err := other.List(ctx, nil)
	if err != nil || len(sbs) != 1 || sbs[0].ID != foreign.sb.ID {
		t.Fatalf("list h2: %v %v", sbs, err)
	}
	if err := b.Destroy(ctx, sbs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Destroy(ctx, sbs[0].ID); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("second destroy of a foreign sandbox: %v", err)
	}
	// The crashed process's own view: destroying its gone sandbox is fine.
	if err := crashed.Destroy(ctx, orphan.sb.ID); err != nil {
		t.Error(err)
	}
}

func TestConcurrentCreates(t *testing.T) {
	b := newBackend(t, nil)
	const n = 8
	var wg sync.WaitGroup
	boxes := make([]*sdk.Sandbox, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sb, err := b.Create(ctx, &sdk.Spec{Kind: testKind, MemoryMB: 64})
			if err != nil {
				errs[i] = err
				return
			}
			boxes[i] = sb
			c, err := sdk.Dial(sb.Endpoint)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			body, _ := sdk.RunBody(&sdk.Run{Value: []byte(`{"i":1}`)})
			r, err := c.Run(ctx, body)
			if err == nil && r.Status != 200 {
				err = errors.New(string(r.Body))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("sandbox %d: %v", i, errs[i])
		}
		if sb := boxes[i]; sb != nil {
			if seen[sb.ID] {
				t.Errorf("id %s twice", sb.ID)
			}
			seen[sb.ID] = true
		}
	}
	for _, sb := range boxes {
		if sb != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := b.Destroy(context.Background(), sb.ID); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
}

// TestTiming measures what a cold start costs in this backend: runc run
// to "socket accepts", and destroy.
func TestTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing skipped in -short")
	}
	b := newBackend(t, nil)
	ctx := context.Background()
	const n = 10
	var creates, destroys []time.Duration
	for range n {
		start := time.Now()
		sb, err := b.Create(ctx, &sdk.Spec{Kind: testKind, MemoryMB: 128})
		if err != nil {
			t.Fatal(err)
		}
		creates = append(creates, time.Since(start))
		start = time.Now()
		if err := b.Destroy(ctx, sb.ID); err != nil {
			t.Fatal(err)
		}
		destroys = append(destroys, time.Since(start))
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	t.Logf("median of %d: create (to socket accepting) %v, destroy %v", n, median(creates), median(destroys))
	t.Logf("create min %v max %v; destroy min %v max %v", creates[0], creates[n-1], destroys[0], destroys[n-1])
}

func TestRuncVersion(t *testing.T) {
	needRunc(t)
	out, err := exec.Command("runc", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", strings.SplitN(string(out), "\n", 2)[0])
}
