package sdk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// A sandbox may still be starting when the invoker posts /init: a refused
// connection is retried until the deadline, on TCP and on unix sockets.
func TestInitRetriesUntilTheProxyListens(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpAddr := tcp.Addr().String()
	tcp.Close() // nobody listens there for now
	sock := filepath.Join(t.TempDir(), "proxy.sock")

	for _, tc := range []struct {
		endpoint string
		listen   func() (net.Listener, error)
	}{
		{"http://" + tcpAddr, func() (net.Listener, error) { return net.Listen("tcp", tcpAddr) }},
		{"unix://" + sock, func() (net.Listener, error) { return net.Listen("unix", sock) }},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			c, err := Dial(tc.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go func() {
				time.Sleep(150 * time.Millisecond)
				ln, err := tc.listen()
				if err != nil {
					t.Error(err)
					return
				}
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Write([]byte(`{"ok":true}`))
				})}
				t.Cleanup(func() { srv.Close() })
				srv.Serve(ln)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r, err := c.Init(ctx, []byte(`{"value":{}}`))
			if err != nil || r.Status != 200 {
				t.Fatalf("init: %v %+v", err, r)
			}
		})
	}
}

func TestRunDoesNotRetry(t *testing.T) {
	c, err := Dial("unix://" + filepath.Join(t.TempDir(), "none.sock"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(context.Background(), []byte(`{}`))
	if !errors.Is(err, ErrConnection) {
		t.Fatalf("run with nobody listening: %v, want ErrConnection", err)
	}
}

func TestDialRejectsOtherSchemes(t *testing.T) {
	for _, e := range []string{"", "tcp://x", "wasm://abc", "https://x"} {
		if _, err := Dial(e); err == nil {
			t.Errorf("Dial(%q) succeeded", e)
		}
	}
}
