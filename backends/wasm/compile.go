package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/stokehq/stoke/sdk"
)

// wasiModule is the only module a guest may import from.
const wasiModule = "wasi_snapshot_preview1"

// module is one compiled action, shared by every sandbox with the same code.
type module struct {
	done     chan struct{} // closed once compiled (or failed)
	compiled wazero.CompiledModule
	minPages uint32 // initial pages of the exported memory, for the limit check
	err      error  // a codeError the /init reply shows to the developer
}

// modules maps a hash of the /init code text to its compiled module. Entries
// live as long as the backend: an action's code is compiled once per host.
type modules struct {
	mu sync.Mutex
	m  map[string]*module
}

// codeError is a developer's mistake in the code (not base64, not wasm,
// does not compile); /init answers 502 with its text.
type codeError struct{ msg string }

func (e *codeError) Error() string { return e.msg }

// Prepare compiles code ahead of time so that a later /init with the same
// code only instantiates. code is the base64 text of /init's "code".
func (b *Backend) Prepare(ctx context.Context, kind, code string) error {
	if kind != Kind {
		return fmt.Errorf("wasm: prepare kind %q: %w", kind, sdk.ErrUnsupported)
	}
	_, err := b.module(ctx, code)
	var ce *codeError
	if errors.As(err, &ce) {
		return fmt.Errorf("wasm: prepare: %w: %s", sdk.ErrInvalid, ce.msg)
	}
	return err
}

// module returns the compiled module for code, compiling it once. Parallel
// callers with the same code wait for the first: wazero's cache does not
// stop concurrent compiles of one binary.
func (b *Backend) module(ctx context.Context, code string) (*module, error) {
	key := sha256.Sum256([]byte(code))
	b.mods.mu.Lock()
	m, ok := b.mods.m[string(key[:])]
	if !ok {
		m = &module{done: make(chan struct{})}
		b.mods.m[string(key[:])] = m
	}
	b.mods.mu.Unlock()
	if ok {
		select {
		case <-m.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return m, m.err
	}

	// Compile on a context that outlives the caller's: others may be waiting
	// for this entry, and a half-done compile is worth nothing.
	m.compiled, m.minPages, m.err = b.compile(context.WithoutCancel(ctx), code)
	if m.err != nil {
		var ce *codeError
		if !errors.As(m.err, &ce) {
			// A host failure (runtime closed): do not pin it, retry next time.
			b.mods.mu.Lock()
			delete(b.mods.m, string(key[:]))
			b.mods.mu.Unlock()
		}
	}
	close(m.done)
	return m, m.err
}

var wasmMagic = []byte("\x00asm")

func (b *Backend) compile(ctx context.Context, code string) (wazero.CompiledModule, uint32, error) {
	bin, err := decodeCode(code)
	if err != nil {
		return nil, 0, err
	}
	rt := b.runtime()
	if rt == nil {
		return nil, 0, fmt.Errorf("wasm: compile: backend closed: %w", sdk.ErrResources)
	}
	b.compiles.Add(1)
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, 0, &codeError{"The action failed to compile: " + firstLine(err.Error())}
	}
	if err := checkModule(rt, cm); err != nil {
		cm.Close(ctx)
		return nil, 0, err
	}
	var minPages uint32
	for _, mem := range cm.ExportedMemories() {
		minPages = max(minPages, mem.Min())
	}
	return cm, minPages, nil
}

// decodeCode turns /init's code (base64 text) into wasm bytes.
func decodeCode(code string) ([]byte, error) {
	// wsk and others may wrap long base64 at 76 columns; StdEncoding skips
	// \r and \n but not spaces.
	code = strings.TrimSpace(code)
	bin, err := base64.StdEncoding.DecodeString(code)
	if err != nil {
		bin, err = base64.RawStdEncoding.DecodeString(code)
	}
	if err != nil {
		return nil, &codeError{"The action code is not base64: " + err.Error()}
	}
	if !bytes.HasPrefix(bin, wasmMagic) {
		return nil, &codeError{"The action code is not a WebAssembly module (no \\0asm header)."}
	}
	return bin, nil
}

// checkModule rejects at /init what would only fail at /run: imports the
// host does not provide and modules that are not WASI commands.
func checkModule(rt wazero.Runtime, cm wazero.CompiledModule) error {
	if _, ok := cm.ExportedFunctions()["_start"]; !ok {
		return &codeError{"The module exports no _start function: it must be a WASI preview1 command module."}
	}
	var provided map[string]api.FunctionDefinition
	if w := rt.Module(wasiModule); w != nil {
		provided = w.ExportedFunctionDefinitions()
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if _, ok := provided[name]; mod != wasiModule || !ok {
			return &codeError{fmt.Sprintf("The module imports %s.%s, which this runtime does not provide (only %s).", mod, name, wasiModule)}
		}
	}
	for _, d := range cm.ImportedMemories() {
		mod, name, _ := d.Import()
		return &codeError{fmt.Sprintf("The module imports memory %s.%s, which this runtime does not provide.", mod, name)}
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
