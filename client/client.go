// Package client is a lean Go client for Stoke's REST API, which is
// OpenWhisk's v1 API: the CLI, the end-to-end tests and the benchmark all
// speak to a server through it. It reuses keep-alive connections so that
// many small requests in a row pay for one TCP handshake, not one each.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds a response body read into memory. An action fetched with
// its code is the largest body: 48 MiB of code grows by a third in base64.
const maxBody = 80 << 20

// Client calls one API host as one subject. It is safe for concurrent use.
type Client struct {
	base      string // scheme://host[:port]/api/v1
	auth      string // "Basic ..." header value, or "" to send none
	namespace string
	hc        *http.Client

	// Actions and Activations group the calls on those resources.
	Actions     *Actions
	Activations *Activations
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the default keep-alive HTTP client.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithNamespace sets the namespace of names that do not name one; the
// default is "_", the caller's own.
func WithNamespace(ns string) Option { return func(c *Client) { c.namespace = ns } }

// New returns a client for apihost ("http://127.0.0.1:3233", or
// "127.0.0.1:3233", which means plain HTTP as Stoke serves by default)
// authenticating with auth ("uuid:key"; "" sends no credentials).
func New(apihost, auth string, opts ...Option) (*Client, error) {
	base, err := baseURL(apihost)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, namespace: "_"}
	if auth != "" {
		if i := strings.IndexByte(auth, ':'); i <= 0 || i == len(auth)-1 {
			return nil, errors.New(`auth key must be "uuid:key"`)
		}
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(auth))
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: NewTransport()}
	}
	c.Actions = &Actions{c}
	c.Activations = &Activations{c}
	return c, nil
}

// NewTransport returns an HTTP transport tuned for many small requests to
// one host: enough idle connections per host that concurrent callers
// reuse them instead of dialing (the stdlib default keeps only two), and
// no gzip, which costs more than it saves on bodies this small.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

func baseURL(apihost string) (string, error) {
	h := strings.TrimSpace(apihost)
	if h == "" {
		return "", errors.New("api host is empty")
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return "", fmt.Errorf("api host %q: %w", apihost, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("api host %q: scheme must be http or https", apihost)
	}
	if u.Host == "" {
		return "", fmt.Errorf("api host %q: no host", apihost)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/api/v1") {
		p += "/api/v1"
	}
	return u.Scheme + "://" + u.Host + p, nil
}

// BaseURL is the API root the client calls, ending in /api/v1.
func (c *Client) BaseURL() string { return c.base }

// Info returns the API's description: api paths, limits, runtimes.
func (c *Client) Info(ctx context.Context) (map[string]json.RawMessage, error) {
	var info map[string]json.RawMessage
	if err := c.call(ctx, http.MethodGet, "", nil, nil, &info); err != nil {
		return nil, err
	}
	return info, nil
}

// Namespaces returns the namespaces the caller may use (its own).
func (c *Client) Namespaces(ctx context.Context) ([]string, error) {
	var ns []string
	if err := c.call(ctx, http.MethodGet, "/namespaces", nil, nil, &ns); err != nil {
		return nil, err
	}
	return ns, nil
}

// call sends a request with a JSON body (when body is not nil) and decodes
// a 2xx JSON response into out (when out is not nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body any, out any) error {
	resp, data, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return newAPIError(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// do sends a request and reads the whole response body.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, []byte, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case json.RawMessage:
			b = v
		default:
			var err error
			if b, err = json.Marshal(body); err != nil {
				return nil, nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, err
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read response: %w", method, u, err)
	}
	if len(data) > maxBody {
		return nil, nil, fmt.Errorf("%s %s: response larger than %d bytes", method, u, maxBody)
	}
	return resp, data, nil
}
