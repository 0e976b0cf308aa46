// Command stoke-backend-wasm is the WebAssembly backend as a go-plugin
// binary. The host launches it; it is not meant to be run by hand.
//
// Sandboxes serve the action protocol over HTTP on a loopback port, since
// the invoker cannot call into another process directly.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/sdk"
)

func main() {
	cacheDir := os.Getenv("STOKE_WASM_CACHE_DIR")
	if cacheDir == "" {
		cacheDir = filepath.Join(os.TempDir(), "stoke-wasm-cache")
	}
	b, err := wasm.New(wasm.Config{CacheDir: cacheDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stoke-backend-wasm:", err)
		os.Exit(1)
	}
	if err := b.Listen("127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, "stoke-backend-wasm:", err)
		os.Exit(1)
	}
	sdk.Serve(b)
}
