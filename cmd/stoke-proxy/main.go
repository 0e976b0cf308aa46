// Command stoke-proxy is the action proxy of Stoke's container runtimes: it
// serves OpenWhisk's /init and /run on :8080 and, when STOKE_PROXY_SOCKET
// names a path, on that unix socket too. Build it static
// (CGO_ENABLED=0) so it runs in images with no libc. Configuration comes
// from the environment; see proxy.OptionsFromEnv.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stokehq/stoke/runtime/proxy"
)

func main() {
	addr := flag.String("addr", ":8080", "TCP address to serve on (empty for none)")
	socket := flag.String("socket", os.Getenv("STOKE_PROXY_SOCKET"), "unix socket to serve on as well")
	flag.Parse()
	if err := run(*addr, *socket); err != nil {
		fmt.Fprintln(os.Stderr, "stoke-proxy:", err)
		os.Exit(1)
	}
}

func run(addr, socket string) error {
	opt, err := proxy.OptionsFromEnv(os.Environ())
	if err != nil {
		return err
	}
	p, err := proxy.New(opt)
	if err != nil {
		return err
	}
	defer p.Close()
	lns, err := proxy.Listen(addr, socket)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return proxy.Serve(ctx, p, lns)
}
