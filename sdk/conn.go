package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Conn speaks the action protocol to one sandbox.
type Conn interface {
	// Init posts a /init body. A refused connection is retried every 50 ms
	// until ctx ends, as the sandbox may still be starting.
	Init(ctx context.Context, body []byte) (*Reply, error)
	// Run posts a /run body.
	Run(ctx context.Context, body []byte) (*Reply, error)
	// Close releases the connection's resources (idle keep-alive sockets).
	Close() error
}

// Reply is the proxy's answer: HTTP status and body. Only 200 is success.
type Reply struct {
	Status int
	Body   []byte
}

// ErrConnection marks a failure to reach the proxy or to read its reply:
// the sandbox did not answer, as opposed to answering with an error.
var ErrConnection = errors.New("action proxy unreachable")

// MaxReplyBytes caps how much of a reply body is read. Bigger replies are
// cut here and reported by the invoker as truncated.
const MaxReplyBytes = 48 << 20

// Dial returns a Conn for an endpoint: "http://host:port[/prefix]" or
// "unix:///path/to/socket". It does no I/O.
func Dial(endpoint string) (Conn, error) {
	tr := &http.Transport{
		// One sandbox, one peer: keep a few idle sockets so warm /run calls
		// skip the TCP handshake.
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	base := endpoint
	switch {
	case strings.HasPrefix(endpoint, "unix://"):
		path := strings.TrimPrefix(endpoint, "unix://")
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		base = "http://sandbox"
	case strings.HasPrefix(endpoint, "http://"):
	default:
		return nil, fmt.Errorf("dial %q: endpoint must start with http:// or unix://", endpoint)
	}
	return &httpConn{base: strings.TrimSuffix(base, "/"), client: &http.Client{Transport: tr}}, nil
}

type httpConn struct {
	base   string
	client *http.Client
}

func (c *httpConn) Init(ctx context.Context, body []byte) (*Reply, error) {
	for {
		r, err := c.post(ctx, "/init", body)
		if err == nil || !refused(err) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrConnection, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *httpConn) Run(ctx context.Context, body []byte) (*Reply, error) {
	return c.post(ctx, "/run", body)
}

func (c *httpConn) Close() error {
	c.client.CloseIdleConnections()
	return nil
}

func (c *httpConn) post(ctx context.Context, path string, body []byte) (*Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", ErrConnection, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: reading reply: %v", ErrConnection, err)
	}
	return &Reply{Status: resp.StatusCode, Body: b}, nil
}

// refused reports whether err means nobody listens yet.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}
