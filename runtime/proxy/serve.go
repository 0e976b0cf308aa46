package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// Listen opens the proxy's listeners: TCP on addr (skipped when empty) and,
// when socket is set, a unix socket there. The socket lets a backend reach
// the proxy through a bind-mounted host directory, without a network. A
// stale socket file from an earlier run is removed, and the socket is made
// world-writable because the invoker may run as another user.
func Listen(addr, socket string) ([]net.Listener, error) {
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	if socket != "" {
		if err := os.MkdirAll(filepath.Dir(socket), 0o755); err != nil {
			closeAll()
			return nil, fmt.Errorf("socket dir: %w", err)
		}
		if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
			closeAll()
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
		ln, err := net.Listen("unix", socket)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen on %s: %w", socket, err)
		}
		if err := os.Chmod(socket, 0o777); err != nil {
			ln.Close()
			closeAll()
			return nil, fmt.Errorf("chmod socket: %w", err)
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return nil, errors.New("no address and no socket to listen on")
	}
	return lns, nil
}

// Serve serves h on every listener until ctx ends or one of them fails.
func Serve(ctx context.Context, h http.Handler, lns []net.Listener) error {
	srv := &http.Server{Handler: h}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func(ln net.Listener) { errc <- srv.Serve(ln) }(ln)
	}
	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
		srv.Close()
		return nil
	}
}
