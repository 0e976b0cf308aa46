// Command stoke-backend-process is an example third-party Stoke backend: it
// runs the Stoke action proxy as a child process per sandbox, each in new
// Linux namespaces (PID, mount, network, IPC, UTS), reached through a unix
// socket. It imports only Stoke's sdk and the standard library, which is
// all a plugin author needs; see README.md for how to build it, check it
// with `stoke conformance backend` and load it into `stoke serve`.
//
// It is configured by its environment:
//
//	STOKE_PROXY_BIN            the action proxy binary (default stoke-proxy on PATH)
//	STOKE_PROCESS_DIR          where sandbox directories go (default $TMPDIR/stoke-process)
//	STOKE_PROCESS_NAMESPACES   "false" runs sandboxes as plain child processes,
//	                           which is the only way without root
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/stokehq/stoke/sdk"
)

func main() {
	b, err := newBackend(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stoke-backend-process:", err)
		os.Exit(1)
	}
	sdk.Serve(b)
}

// newBackend reads the configuration and checks what the backend needs
// before the host sees it: a proxy binary, and root for namespaces.
func newBackend(getenv func(string) string) (*backend, error) {
	proxy := getenv("STOKE_PROXY_BIN")
	if proxy == "" {
		proxy = "stoke-proxy"
	}
	path, err := exec.LookPath(proxy)
	if err != nil {
		return nil, fmt.Errorf("action proxy %q (set STOKE_PROXY_BIN): %w", proxy, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, fmt.Errorf("action proxy: %w", err)
	}
	dir := getenv("STOKE_PROCESS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "stoke-process")
	}
	namespaces := getenv("STOKE_PROCESS_NAMESPACES") != "false"
	if namespaces && os.Geteuid() != 0 {
		return nil, fmt.Errorf("new namespaces need root; run as root, or set STOKE_PROCESS_NAMESPACES=false to run sandboxes as plain (unisolated) processes")
	}
	// Sandbox directories are named by random ids, so a restarted plugin
	// never meets an old one's socket. Keep dir short: a unix socket path
	// has at most 108 bytes.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox dir: %w", err)
	}
	return &backend{proxy: path, dir: dir, namespaces: namespaces,
		boxes: map[string]*box{}, gone: map[string]bool{}}, nil
}
