package conformance

import (
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// Fixture is the action code one case deploys with /init.
type Fixture struct {
	Code   string // source text, or base64 when Binary
	Binary bool
	// Source names where the code came from (a file), for messages.
	Source string
	// Skip, when set, says why the case does not apply to the runtime (a
	// file ID.skip); the case is reported as SKIP with it.
	Skip string
}

// Fixtures maps case IDs to their code. A case whose fixture is missing is
// skipped and says so.
type Fixtures map[string]Fixture

// IDs returns the case IDs that have a fixture, sorted.
func (f Fixtures) IDs() []string {
	ids := make([]string, 0, len(f))
	for id := range f {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

//go:embed fixtures
var builtin embed.FS

// wasmFixtures says which built-in source serves which case. Several cases
// share one module (identity, echo, env), as OpenWhisk's suites share code.
var wasmFixtures = map[string]string{
	"C03": "string.wat",
	"C04": "identity.wat",
	"C05": "identity.wat",
	"C06": "echo.wat",
	"C07": "unicode.wat",
	"C08": "env.wat",
	"C09": "env.wat",
	"C10": "identity.wat",
	"C12": "identity.wat", // a wasm module is a binary action
	"C13": "identity.wat",
	"C16": "invalid.txt",
	"C20": "apperror.wat",
	"C23": "spin.wat",
	"W01": "env.wat",
	"W02": "stdin.wat",
	"W03": "logs.wat",
	"W04": "logs.wat",
	"W05": "number.wat",
	"W06": "trap.wat",
	"W07": "exit.wat",
	"W08": "count.wat",
	"B08": "grow.wat",
}

// largeSource is the size C21 wants; the built-in C21 fixtures are padded
// to it with comment lines rather than kept as 500 KB files.
const largeSource = 500000

// builtinDir maps a kind to its directory under conformance/fixtures.
func builtinDir(kind string) string {
	name, _, _ := strings.Cut(kind, ":")
	switch name {
	case "nodejs", "python", "native":
		return name
	}
	return ""
}

// BuiltinFixtures returns the fixtures that ship with Stoke for a kind:
// "wasm" (conformance/fixtures/wasm, .wat sources compiled with wat2wasm,
// Debian package wabt, which must be on PATH), and "nodejs:20",
// "python:3" and "native" (conformance/fixtures/nodejs, python, native:
// one file per case ID, read as LoadFixtures reads a directory; any
// nodejs:* or python:* kind takes the same ones).
func BuiltinFixtures(kind string) (Fixtures, error) {
	if kind == "wasm" {
		return wasmBuiltin()
	}
	dir := builtinDir(kind)
	if dir == "" {
		return nil, fmt.Errorf("conformance: no built-in fixtures for kind %q (built in: wasm, nodejs:20, python:3, native; use LoadFixtures)", kind)
	}
	fsys, err := fs.Sub(builtin, "fixtures/"+dir)
	if err != nil {
		return nil, fmt.Errorf("conformance: fixtures: %w", err)
	}
	fx, err := loadFixtures(fsys, "conformance/fixtures/"+dir)
	if err != nil {
		return nil, err
	}
	if c21, ok := fx["C21"]; ok && !c21.Binary && c21.Skip == "" {
		c21.Code = pad(c21.Code, filepath.Ext(c21.Source), largeSource)
		fx["C21"] = c21
	}
	return fx, nil
}

// pad appends comment lines to source until it has at least n bytes.
func pad(source, ext string, n int) string {
	comment := "#"
	if ext == ".js" {
		comment = "//"
	}
	line := comment + " " + strings.Repeat("padding ", 9) + "\n"
	var b strings.Builder
	b.WriteString(source)
	if !strings.HasSuffix(source, "\n") {
		b.WriteString("\n")
	}
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.String()
}

func wasmBuiltin() (Fixtures, error) {
	tmp, err := os.MkdirTemp("", "stoke-conformance-")
	if err != nil {
		return nil, fmt.Errorf("conformance: fixtures: %w", err)
	}
	defer os.RemoveAll(tmp)
	byFile := map[string]Fixture{}
	out := Fixtures{}
	for id, name := range wasmFixtures {
		fx, ok := byFile[name]
		if !ok {
			src, err := builtin.ReadFile("fixtures/wasm/" + name)
			if err != nil {
				return nil, fmt.Errorf("conformance: fixture %s: %w", name, err)
			}
			fx, err = fixtureFrom(tmp, name, src)
			if err != nil {
				return nil, err
			}
			fx.Source = "conformance/fixtures/wasm/" + name
			byFile[name] = fx
		}
		out[id] = fx
	}
	return out, nil
}

// LoadFixtures reads a directory with one file per case, named by case ID
// and any extension: C05.js, C06.py, W03.wasm, C12.zip. A .wat file is
// compiled with wat2wasm. A file that is not UTF-8 text (or has the
// extension .zip, .wasm, .jar, .tgz, .gz, .bin) is sent base64-encoded with
// "binary": true, as OpenWhisk does for binary actions. A file ID.skip says
// the case does not apply to the runtime: its text is the reason the case
// is skipped with. Other files are ignored; two files for one ID are an
// error.
func LoadFixtures(dir string) (Fixtures, error) {
	return loadFixtures(os.DirFS(dir), dir)
}

func loadFixtures(fsys fs.FS, dir string) (Fixtures, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("conformance: load fixtures: %w", err)
	}
	tmp, err := os.MkdirTemp("", "stoke-conformance-")
	if err != nil {
		return nil, fmt.Errorf("conformance: load fixtures: %w", err)
	}
	defer os.RemoveAll(tmp)
	known := map[string]bool{}
	for _, c := range append(RuntimeCases(), BackendCases()...) {
		known[c.ID] = true
	}
	out := Fixtures{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		id, _, _ := strings.Cut(name, ".")
		if !known[id] {
			continue
		}
		if prev, dup := out[id]; dup {
			return nil, fmt.Errorf("conformance: load fixtures: two files for %s: %s and %s", id, prev.Source, name)
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("conformance: load fixtures: %w", err)
		}
		var fx Fixture
		if filepath.Ext(name) == ".skip" {
			fx.Skip = strings.TrimSpace(string(src))
			if fx.Skip == "" {
				return nil, fmt.Errorf("conformance: load fixtures: %s is empty: write why the case does not apply", name)
			}
		} else if fx, err = fixtureFrom(tmp, name, src); err != nil {
			return nil, err
		}
		fx.Source = filepath.Join(dir, name)
		out[id] = fx
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("conformance: load fixtures: no file in %s is named after a case ID (C05.js, W03.wasm, ...)", dir)
	}
	return out, nil
}

// get returns the fixture for id, or a skip error when it is missing or
// says the case does not apply.
func (f Fixtures) get(kind, id string) (Fixture, error) {
	fx, ok := f[id]
	if !ok {
		return Fixture{}, skipf("no fixture for %s in the %s fixtures", id, kind)
	}
	if fx.Skip != "" {
		return Fixture{}, skipf("does not apply to %s: %s", kind, fx.Skip)
	}
	return fx, nil
}

var binaryExt = map[string]bool{".zip": true, ".wasm": true, ".jar": true, ".tgz": true, ".gz": true, ".bin": true}

func fixtureFrom(tmp, name string, src []byte) (Fixture, error) {
	ext := filepath.Ext(name)
	if ext == ".wat" {
		wasm, err := wat2wasm(tmp, name, src)
		if err != nil {
			return Fixture{}, err
		}
		return Fixture{Code: base64.StdEncoding.EncodeToString(wasm), Binary: true}, nil
	}
	if binaryExt[ext] || !utf8.Valid(src) || strings.ContainsRune(string(src), 0) {
		return Fixture{Code: base64.StdEncoding.EncodeToString(src), Binary: true}, nil
	}
	return Fixture{Code: string(src)}, nil
}

// wat2wasm compiles WebAssembly text with wabt's wat2wasm.
func wat2wasm(tmp, name string, src []byte) ([]byte, error) {
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		return nil, fmt.Errorf("conformance: fixture %s needs wat2wasm (Debian package wabt; `make deps` installs it): %w", name, err)
	}
	in := filepath.Join(tmp, filepath.Base(name))
	out := strings.TrimSuffix(in, ".wat") + ".wasm"
	if err := os.WriteFile(in, src, 0o644); err != nil {
		return nil, fmt.Errorf("conformance: fixture %s: %w", name, err)
	}
	if msg, err := exec.Command(bin, in, "-o", out).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("conformance: wat2wasm %s: %w: %s", name, err, strings.TrimSpace(string(msg)))
	}
	wasm, err := os.ReadFile(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("conformance: wat2wasm %s wrote no output", name)
	}
	return wasm, err
}
