package proxy_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stokehq/stoke/runtime/proxy"
)

// harness is a proxy behind httptest, with its log streams in temp files
// (as in a container, where they are the process's stdout and stderr).
type harness struct {
	t        *testing.T
	p        *proxy.Proxy
	srv      *httptest.Server
	out, err *os.File
}

func newHarness(t *testing.T, opt proxy.Options) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t}
	var err error
	if h.out, err = os.Create(filepath.Join(dir, "stdout")); err != nil {
		t.Fatal(err)
	}
	if h.err, err = os.Create(filepath.Join(dir, "stderr")); err != nil {
		t.Fatal(err)
	}
	opt.Stdout, opt.Stderr = h.out, h.err
	if opt.Dir == "" {
		opt.Dir = filepath.Join(dir, "action")
	}
	if h.p, err = proxy.New(opt); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.p)
	t.Cleanup(func() {
		h.srv.Close()
		h.p.Close()
		h.out.Close()
		h.err.Close()
	})
	return h
}

func (h *harness) post(path string, body any) (int, string) {
	h.t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			h.t.Fatal(err)
		}
	}
	resp, err := http.Post(h.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// init posts an init with code; binary is decided like OpenWhisk does.
func (h *harness) init(code, main string, binary bool, env map[string]string) (int, string) {
	v := map[string]any{"code": code, "main": main, "binary": binary}
	if env != nil {
		v["env"] = env
	}
	return h.post("/init", map[string]any{"value": v})
}

func (h *harness) mustInit(code, main string, binary bool, env map[string]string) {
	h.t.Helper()
	if st, body := h.init(code, main, binary, env); st != 200 || body != `{"ok":true}` {
		h.t.Fatalf("init = %d %s; logs:\n%s", st, body, h.stderr())
	}
}

func (h *harness) run(value any, ctx map[string]string) (int, string) {
	body := map[string]any{"value": value}
	for k, v := range ctx {
		body[k] = v
	}
	return h.post("/run", body)
}

func read(t *testing.T, f *os.File) string {
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (h *harness) stdout() string { return read(h.t, h.out) }
func (h *harness) stderr() string { return read(h.t, h.err) }

// sentinels checks that each stream holds n sentinel lines.
func (h *harness) sentinels(n int) {
	h.t.Helper()
	for name, s := range map[string]string{"stdout": h.stdout(), "stderr": h.stderr()} {
		if got := strings.Count(s, proxy.Sentinel+"\n"); got != n {
			h.t.Errorf("%s has %d sentinels, want %d:\n%s", name, got, n, s)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type file struct {
	name, body string
	mode       int64
}

func zipOf(t *testing.T, files ...file) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		hdr.SetMode(os.FileMode(f.mode))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tgzOf(t *testing.T, files ...file) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
