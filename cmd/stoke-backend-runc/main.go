// Command stoke-backend-runc is the runc backend as a go-plugin binary. The
// host launches it; it is not meant to be run by hand.
//
// It is configured by its environment:
//
//	STOKE_RUNC_ROOTFS_BASE  directory holding bin/runtimes/<name>/rootfs (default ".")
//	STOKE_RUNC_KINDS        explicit kind=rootfs pairs, comma-separated; replaces the defaults
//	STOKE_RUNC_ROOT         runc's state root (default /run/stoke-runc)
//	STOKE_RUNC_BUNDLES      bundle directory (default /tmp/stoke-runc-bundles)
//	STOKE_RUNC_BINARY       the runc binary (default runc on PATH)
//	STOKE_RUNC_PROCESS      the sandbox command, space-separated (default /bin/proxy)
//	STOKE_RUNC_LABELS       k=v pairs, comma-separated, that mark this host's sandboxes
//	STOKE_RUNC_KEEP_ORPHANS "true" skips the orphan clean-up at start
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stokehq/stoke/backends/runc"
	"github.com/stokehq/stoke/sdk"
)

func main() {
	cfg, err := config(os.Getenv)
	if err == nil {
		var b *runc.Backend
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		b, err = runc.New(ctx, cfg)
		cancel()
		if err == nil {
			sdk.Serve(b)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "stoke-backend-runc:", err)
	os.Exit(1)
}

func config(getenv func(string) string) (runc.Config, error) {
	cfg := runc.Config{
		RootfsBase:  getenv("STOKE_RUNC_ROOTFS_BASE"),
		StateRoot:   getenv("STOKE_RUNC_ROOT"),
		BundleDir:   getenv("STOKE_RUNC_BUNDLES"),
		Runc:        getenv("STOKE_RUNC_BINARY"),
		Process:     strings.Fields(getenv("STOKE_RUNC_PROCESS")),
		KeepOrphans: getenv("STOKE_RUNC_KEEP_ORPHANS") == "true",
	}
	var err error
	if cfg.RootfsDirs, err = pairs("STOKE_RUNC_KINDS", getenv("STOKE_RUNC_KINDS")); err != nil {
		return cfg, err
	}
	if cfg.Labels, err = pairs("STOKE_RUNC_LABELS", getenv("STOKE_RUNC_LABELS")); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// pairs parses "k=v,k=v". Kinds contain colons ("nodejs:20"), so the
// separator is "=".
func pairs(name, s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := make(map[string]string)
	for _, p := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%s: %q is not key=value", name, p)
		}
		out[k] = v
	}
	return out, nil
}
