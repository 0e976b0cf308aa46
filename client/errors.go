package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is a non-2xx answer from the API. Message and Code come from
// OpenWhisk's error body {"error": msg, "code": transaction id}.
type APIError struct {
	Status  int    // HTTP status
	Message string // what the server said, or the status text
	Code    string // the server's transaction id, for its logs
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	fmt.Fprintf(&b, " (%d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		b.WriteString(", code ")
		b.WriteString(e.Code)
	}
	b.WriteString(")")
	return b.String()
}

// IsNotFound reports whether err is an APIError with status 404.
func IsNotFound(err error) bool { return HasStatus(err, http.StatusNotFound) }

// HasStatus reports whether err is an APIError with the given status.
func HasStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == status
}

func newAPIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Status: resp.StatusCode}
	var eb struct {
		Error string `json:"error"`
		Code  any    `json:"code"` // a string in OpenWhisk, a number in some proxies
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		e.Message = eb.Error
		if eb.Code != nil {
			e.Code = fmt.Sprint(eb.Code)
		}
		return e
	}
	// Not OpenWhisk's shape (a proxy in between, a crash): show a short
	// piece of the body, which says more than the status alone.
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" || strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' && r != '\n' && r != '\t' }) {
		msg = strings.ToLower(http.StatusText(resp.StatusCode))
		if msg == "" {
			msg = "unexpected status"
		}
	}
	e.Message = msg
	return e
}
