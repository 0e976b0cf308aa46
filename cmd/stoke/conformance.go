package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/conformance"
	"github.com/stokehq/stoke/plugins"
	"github.com/stokehq/stoke/sdk"
)

// runConformance runs the conformance suites from the command line:
//
//	stoke conformance runtime --kind KIND [--backend NAME] [--fixtures DIR] [--junit FILE]
//	stoke conformance backend --plugin PATH [--kind KIND] [--fixtures DIR] [--junit FILE]
//
// It prints one line per case and a summary, and exits non-zero when a
// MUST case fails.
func runConformance(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "runtime" && args[0] != "backend") {
		fmt.Fprintln(os.Stderr, "usage: stoke conformance runtime|backend [flags]  (-h for the flags)")
		return errUsage
	}
	suite := args[0]
	fs := flag.NewFlagSet("conformance "+suite, flag.ContinueOnError)
	kind := fs.String("kind", "", "runtime kind to check (built-in fixtures for it unless --fixtures)")
	fixtures := fs.String("fixtures", "", "directory of case fixtures, one file per case ID (see docs/conformance.md)")
	junit := fs.String("junit", "", "also write JUnit XML to this file")
	backend := fs.String("backend", "wasm", "runtime suite: the backend whose sandboxes run the kind (wasm, or a plugin via --plugin)")
	plugin := fs.String("plugin", "", "path of a backend plugin binary (stoke-backend-*)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}

	var fx conformance.Fixtures
	if *fixtures != "" {
		var err error
		if fx, err = conformance.LoadFixtures(*fixtures); err != nil {
			return err
		}
	}
	b, closeBackend, err := conformanceBackend(ctx, *backend, *plugin)
	if err != nil {
		return err
	}
	defer closeBackend()

	target := conformance.BackendTarget{Backend: b, Kind: *kind, Fixtures: fx}
	var rep *conformance.Report
	switch suite {
	case "runtime":
		if *kind == "" {
			return fmt.Errorf("conformance runtime: --kind is required")
		}
		rt, err := conformance.RuntimeThrough(ctx, target)
		if err != nil {
			return err
		}
		rep = conformance.Check(ctx, rt)
	case "backend":
		if *plugin == "" {
			return fmt.Errorf("conformance backend: --plugin is required")
		}
		rep = conformance.CheckBackend(ctx, target)
	}
	if err := rep.Print(os.Stdout); err != nil {
		return err
	}
	if *junit != "" {
		f, err := os.Create(*junit)
		if err != nil {
			return err
		}
		if err := rep.WriteJUnit(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if failed := rep.Failed(conformance.Must); len(failed) > 0 {
		return fmt.Errorf("%d MUST case(s) failed", len(failed))
	}
	return nil
}

// conformanceBackend opens the backend under test: a plugin binary when
// one is named, else a backend linked into stoke.
func conformanceBackend(ctx context.Context, name, plugin string) (sdk.Backend, func(), error) {
	if plugin != "" {
		p, err := plugins.Launch(ctx, plugin, plugins.Options{})
		if err != nil {
			return nil, nil, err
		}
		return p, func() { p.Close() }, nil
	}
	switch name {
	case "wasm":
		dir, err := os.MkdirTemp("", "stoke-conformance")
		if err != nil {
			return nil, nil, err
		}
		w, err := wasm.New(wasm.Config{CacheDir: filepath.Join(dir, "cache")})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return w, func() { w.Close(context.Background()); os.RemoveAll(dir) }, nil
	}
	return nil, nil, fmt.Errorf("unknown backend %q (linked in: wasm; others through --plugin PATH)", name)
}
