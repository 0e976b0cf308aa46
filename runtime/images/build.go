package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// version changes the fingerprint of every image when the layout changes.
const version = "stoke-images-1"

// Options configure Build.
type Options struct {
	Root  string   // output root; default bin/runtimes
	Repo  string   // repository root, where the launchers are; default "."
	Proxy string   // the static stoke-proxy binary (required)
	Names []string // runtimes to build; default all
	// Docker is the docker CLI; default "docker". With NoDocker only the
	// rootfs directories are assembled.
	Docker   string
	NoDocker bool
	Log      io.Writer // progress lines; default io.Discard
}

// Result describes one runtime image.
type Result struct {
	Name   string
	Image  string // stoke/runtime-<name>:<hash>
	ID     string // docker image id, empty with NoDocker
	Hash   string
	Rootfs string
	Cached bool // nothing to do: same inputs as the last build
	// Imported is true when docker import ran (false when an image with
	// the same fingerprint existed).
	Imported bool
	Elapsed  time.Duration
}

// Config is written next to each rootfs as image.json, for backends that
// run the rootfs without docker (runc).
type Config struct {
	Image   string            `json:"image"`
	ID      string            `json:"id,omitempty"`
	Hash    string            `json:"hash"`
	Cmd     []string          `json:"cmd"`
	Env     []string          `json:"env"`
	WorkDir string            `json:"workdir"`
	Port    int               `json:"port"`
	Labels  map[string]string `json:"labels"`
}

// Build assembles and imports the selected runtimes.
func Build(ctx context.Context, opt Options) ([]Result, error) {
	if opt.Root == "" {
		opt.Root = filepath.Join("bin", "runtimes")
	}
	if opt.Repo == "" {
		opt.Repo = "."
	}
	if opt.Docker == "" {
		opt.Docker = "docker"
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if opt.Proxy == "" {
		return nil, errors.New("no proxy binary given: build cmd/stoke-proxy with CGO_ENABLED=0 first")
	}
	if !opt.NoDocker {
		if _, err := exec.LookPath(opt.Docker); err != nil {
			return nil, fmt.Errorf("docker CLI not found (use NoDocker for rootfs only): %w", err)
		}
	}
	specs := Specs()
	if len(opt.Names) > 0 {
		byName := map[string]Spec{}
		for _, s := range specs {
			byName[s.Name] = s
		}
		specs = specs[:0]
		for _, n := range opt.Names {
			s, ok := byName[n]
			if !ok {
				return nil, fmt.Errorf("unknown runtime %q", n)
			}
			specs = append(specs, s)
		}
	}
	var out []Result
	for _, s := range specs {
		r, err := build(ctx, opt, s)
		if err != nil {
			return out, fmt.Errorf("runtime %s: %w", s.Name, err)
		}
		what := "built"
		if r.Cached {
			what = "up to date"
		}
		fmt.Fprintf(opt.Log, "%-9s %s %s (%s)\n", s.Name, what, r.Image, r.Elapsed.Round(time.Millisecond))
		out = append(out, r)
	}
	return out, nil
}

func build(ctx context.Context, opt Options, s Spec) (Result, error) {
	start := time.Now()
	dir := filepath.Join(opt.Root, s.Name)
	r := Result{Name: s.Name, Rootfs: filepath.Join(dir, "rootfs")}
	hash, err := fingerprint(opt, s)
	if err != nil {
		return r, err
	}
	r.Hash = hash
	r.Image = "stoke/runtime-" + s.Name + ":" + hash
	cfg := config(s, r.Image, hash)

	// Up to date: same inputs as the last build, and the image is there.
	if old, err := os.ReadFile(filepath.Join(dir, "inputs")); err == nil && strings.TrimSpace(string(old)) == hash {
		if _, err := os.Stat(r.Rootfs); err == nil {
			if opt.NoDocker {
				r.Cached, r.Elapsed = true, time.Since(start)
				return r, nil
			}
			if id, err := inspect(ctx, opt.Docker, r.Image); err == nil {
				r.ID, r.Cached, r.Elapsed = id, true, time.Since(start)
				return r, nil
			}
		}
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	os.Remove(filepath.Join(dir, "inputs")) // a half-done build is never "up to date"
	tmp := r.Rootfs + ".tmp"
	os.RemoveAll(tmp)
	if err := assemble(ctx, opt, s, tmp); err != nil {
		os.RemoveAll(tmp)
		return r, err
	}
	os.RemoveAll(r.Rootfs)
	if err := os.Rename(tmp, r.Rootfs); err != nil {
		return r, err
	}
	if !opt.NoDocker {
		// The tag is the fingerprint: an image that has it already holds
		// this rootfs (built into another root). Importing again would only
		// leave a dangling copy with a new timestamp.
		if r.ID, err = inspect(ctx, opt.Docker, r.Image); err != nil {
			if r.ID, err = importImage(ctx, opt.Docker, r.Rootfs, r.Image, cfg); err != nil {
				return r, err
			}
			r.Imported = true
		}
		if err := os.WriteFile(filepath.Join(dir, "image-id"), []byte(r.ID+"\n"), 0o644); err != nil {
			return r, err
		}
	}
	cfg.ID = r.ID
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "image.json"), append(b, '\n'), 0o644); err != nil {
		return r, err
	}
	if err := os.WriteFile(filepath.Join(dir, "inputs"), []byte(hash+"\n"), 0o644); err != nil {
		return r, err
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

func config(s Spec, image, hash string) Config {
	env := append([]string{"PATH=/usr/bin:/bin", "STOKE_ACTION_DIR=/action"}, s.Env...)
	return Config{
		Image: image, Hash: hash,
		Cmd: []string{"/bin/proxy"}, Env: env, WorkDir: "/action", Port: 8080,
		Labels: map[string]string{
			"org.stoke.proxy-socket": "STOKE_PROXY_SOCKET",
			"org.stoke.runtime":      s.Name,
			"org.stoke.inputs":       hash,
		},
	}
}

// fingerprint hashes what an image is made of. Small repository files
// (proxy, launcher) by content; host files by path, size, mode and mtime,
// which is enough to notice a package upgrade without reading 150 MB; the
// dpkg database stands for the shared libraries, which are only resolved
// (with ldd) when building.
func fingerprint(opt Options, s Spec) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%q\n%q\n", version, s.Name, s.Env, sortedLinks(s.Links))
	content := func(p string) error {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "content %s\n", filepath.Base(p))
		_, err = io.Copy(h, f)
		return err
	}
	stat := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "stat %s %d %v %d\n", p, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	}
	if err := content(opt.Proxy); err != nil {
		return "", fmt.Errorf("proxy: %w", err)
	}
	if s.Launcher != "" {
		if err := content(filepath.Join(opt.Repo, s.Launcher)); err != nil {
			return "", fmt.Errorf("launcher: %w", err)
		}
	}
	for _, b := range s.Bins {
		fmt.Fprintf(h, "bin %s %s %v\n", b.Host, b.Dest, b.Strip)
		if err := stat(b.Host); err != nil {
			return "", err
		}
	}
	for _, t := range s.Trees {
		err := walkTree(t, func(host, rel string, d fs.DirEntry) error {
			if d.IsDir() {
				return nil
			}
			return stat(host)
		})
		if err != nil {
			return "", err
		}
	}
	stat("/var/lib/dpkg/status") // absent off Debian: the stats above must do
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func sortedLinks(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"->"+v)
	}
	sort.Strings(out)
	return out
}

// walkTree visits the files of t that are not skipped.
func walkTree(t Tree, fn func(host, rel string, d fs.DirEntry) error) error {
	return filepath.WalkDir(t.Host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(t.Host, p)
		if rel != "." && t.Skip != nil && t.Skip(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return fn(p, rel, d)
	})
}
