package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/conformance"
	"github.com/stokehq/stoke/plugins"
	"github.com/stokehq/stoke/sdk"
)

// conformanceUsage is printed for a bad sub-command.
const conformanceUsage = `usage:
  stoke conformance runtime --kind KIND [--backend wasm|docker|runc] [--fixtures DIR] [--junit FILE]
  stoke conformance runtime --kind KIND --image IMG [--fixtures DIR] [--junit FILE]
  stoke conformance runtime --kind KIND --endpoint URL [--fixtures DIR] [--junit FILE]
  stoke conformance backend --plugin PATH [--kind KIND] [--fixtures DIR] [--junit FILE]
(-h for all the flags)`

// endpointCases are the runtime cases that can share one pre-existing
// sandbox, in suite order: two refused inits leave it uninitialised, then
// C06 initialises it and runs four payloads.
var endpointCases = map[string]bool{"C01": true, "C02": true, "C06": true}

// runConformance runs the conformance suites from the command line. It
// prints one line per case and a summary, and exits non-zero when a MUST
// case fails.
func runConformance(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "runtime" && args[0] != "backend") {
		fmt.Fprintln(os.Stderr, conformanceUsage)
		return errUsage
	}
	suite := args[0]
	fs := flag.NewFlagSet("conformance "+suite, flag.ContinueOnError)
	kind := fs.String("kind", "", "runtime kind to check (built-in fixtures for it unless --fixtures)")
	fixtures := fs.String("fixtures", "", "directory of case fixtures, one file per case ID (see docs/conformance.md)")
	junit := fs.String("junit", "", "also write JUnit XML to this file")
	backend := fs.String("backend", "", "runtime suite: the backend whose sandboxes run the kind: wasm (linked in), docker or runc (plugins from --plugin-dir); default wasm for kind wasm, else docker")
	plugin := fs.String("plugin", "", "path of a backend plugin binary (stoke-backend-*) to run the suite through")
	pluginDir := fs.String("plugin-dir", besideBinary("plugins", filepath.Join("bin", "plugins")), "directory of Stoke's backend plugins (stoke-backend-docker, stoke-backend-runc); default: plugins next to the stoke binary")
	runtimesDir := fs.String("runtimes-dir", besideBinary("runtimes", filepath.Join("bin", "runtimes")), "runtime root filesystems for runc (make images)")
	image := fs.String("image", "", "runtime suite: run this runtime image (through the docker backend) with the fixtures of --kind")
	endpoint := fs.String("endpoint", "", "runtime suite: check the action proxy already listening at this URL (http://host:port or unix:///path); only the cases that can share one sandbox run")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("conformance %s: unexpected arguments %q", suite, fs.Args())
	}

	var fx conformance.Fixtures
	if *fixtures != "" {
		var err error
		if fx, err = conformance.LoadFixtures(*fixtures); err != nil {
			return err
		}
	}
	var rep *conformance.Report
	switch suite {
	case "runtime":
		if *kind == "" {
			return fmt.Errorf("conformance runtime: --kind is required")
		}
		if *endpoint != "" && (*image != "" || *plugin != "" || *backend != "") {
			return fmt.Errorf("conformance runtime: --endpoint checks a running proxy; it takes no --image, --backend or --plugin")
		}
		if *endpoint != "" {
			rt, err := endpointTarget(*kind, *endpoint, fx)
			if err != nil {
				return err
			}
			rep = conformance.Check(ctx, rt)
			break
		}
		name := *backend
		switch {
		case *plugin != "":
			if name != "" {
				return fmt.Errorf("conformance runtime: give --backend or --plugin, not both")
			}
		case *image != "":
			if name != "" && name != "docker" {
				return fmt.Errorf("conformance runtime: --image runs through the docker backend, not %q", name)
			}
			name = "docker"
		case name == "" && *kind == "wasm":
			name = "wasm"
		case name == "":
			name = "docker"
		}
		b, closeBackend, err := conformanceBackend(ctx, name, *plugin, *pluginDir, *runtimesDir)
		if err != nil {
			return err
		}
		defer closeBackend()
		rt, err := conformance.RuntimeThrough(ctx, conformance.BackendTarget{Backend: b, Kind: *kind, Image: *image, Fixtures: fx})
		if err != nil {
			return err
		}
		if *image != "" {
			rt.Kind += " (image " + *image + ")"
		}
		rep = conformance.Check(ctx, rt)
	case "backend":
		if *plugin == "" {
			return fmt.Errorf("conformance backend: --plugin is required")
		}
		if *image != "" || *endpoint != "" || *backend != "" {
			return fmt.Errorf("conformance backend: --image, --endpoint and --backend belong to the runtime suite")
		}
		b, closeBackend, err := conformanceBackend(ctx, "", *plugin, *pluginDir, *runtimesDir)
		if err != nil {
			return err
		}
		defer closeBackend()
		rep = conformance.CheckBackend(ctx, conformance.BackendTarget{Backend: b, Kind: *kind, Fixtures: fx})
	}
	if err := rep.Print(os.Stdout); err != nil {
		return err
	}
	if *junit != "" {
		if err := writeJUnit(rep, *junit); err != nil {
			return err
		}
	}
	if failed := rep.Failed(conformance.Must); len(failed) > 0 {
		return fmt.Errorf("%d MUST case(s) failed", len(failed))
	}
	return nil
}

func writeJUnit(rep *conformance.Report, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if err := rep.WriteJUnit(f); err != nil {
		f.Close()
		return fmt.Errorf("junit: %w", err)
	}
	return f.Close()
}

// conformanceBackend opens the backend under test: a plugin binary when
// one is named, the wasm backend linked into stoke, or Stoke's docker or
// runc plugin from pluginDir, configured as serve configures it.
func conformanceBackend(ctx context.Context, name, plugin, pluginDir, runtimesDir string) (sdk.Backend, func(), error) {
	// Plugin chatter below warnings would interleave with the report.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if plugin != "" {
		return launchForConformance(ctx, plugin, runtimesDir, quiet)
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
	case "docker", "runc":
		path := filepath.Join(pluginDir, plugins.Prefix+name)
		if _, err := os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("backend %s: no plugin %s (build it with `make`, or give --plugin-dir): %w", name, path, err)
		}
		return launchForConformance(ctx, path, runtimesDir, quiet)
	}
	return nil, nil, fmt.Errorf("unknown backend %q (wasm, docker, runc; any other through --plugin PATH)", name)
}

// launchForConformance starts a plugin with the environment serve gives
// its plugins (pluginEnv). A data dir of its own gives the run host labels
// that no server shares, so a plugin's orphan clean-up touches only this
// run's sandboxes.
func launchForConformance(ctx context.Context, path, runtimesDir string, log *slog.Logger) (sdk.Backend, func(), error) {
	dir, err := os.MkdirTemp("", "stoke-conformance")
	if err != nil {
		return nil, nil, err
	}
	env := pluginEnv(&serveConfig{dataDir: dir, runtimesDir: runtimesDir})
	p, err := plugins.Launch(ctx, path, plugins.Options{Logger: log, Env: env})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("plugin %s: %w", path, err)
	}
	return p, func() { p.Close(); os.RemoveAll(dir) }, nil
}

// endpointTarget checks a proxy that is already listening. It is one
// sandbox, so only the cases in endpointCases run on it; the others are
// skipped with the reason.
func endpointTarget(kind, endpoint string, fx conformance.Fixtures) (conformance.RuntimeTarget, error) {
	if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") && !strings.HasPrefix(endpoint, "unix://") {
		return conformance.RuntimeTarget{}, fmt.Errorf("conformance runtime: --endpoint %q: want http://host:port or unix:///path", endpoint)
	}
	if fx == nil {
		var err error
		if fx, err = conformance.BuiltinFixtures(kind); err != nil {
			return conformance.RuntimeTarget{}, err
		}
	}
	skip := map[string]string{}
	for _, c := range conformance.RuntimeCases() {
		if !endpointCases[c.ID] {
			skip[c.ID] = "needs a fresh sandbox per case"
		}
	}
	return conformance.RuntimeTarget{
		Kind:     kind + " (endpoint " + endpoint + ")",
		Features: conformance.DefaultFeatures(kind),
		Fixtures: fx,
		Skip:     skip,
		NewSandbox: func(ctx context.Context, o conformance.SandboxOptions) (*conformance.Sandbox, error) {
			if len(o.Env) > 0 {
				return nil, errors.New("the case sets the sandbox environment, which a running proxy cannot take")
			}
			conn, err := sdk.Dial(endpoint)
			if err != nil {
				return nil, fmt.Errorf("dial %s: %w", endpoint, err)
			}
			return &conformance.Sandbox{Conn: conn, Close: func() error { return nil }}, nil
		},
	}, nil
}
