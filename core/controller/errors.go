package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// OpenWhisk's messages (common/scala/.../http/Messages.scala), kept word
// for word because clients and scripts match on them.
const (
	msgNotFound          = "The requested resource does not exist."
	msgUnauthenticated   = "The supplied authentication is invalid"
	msgForbidden         = "The supplied authentication is not authorized to access this resource."
	msgExists            = "resource already exists"
	msgConcurrentUpdate  = "Concurrent modification to resource detected."
	msgMalformed         = "The request content was malformed:\n"
	msgDocsWithCount     = "The parameter 'docs' is not permitted with 'count'."
	msgReservedParams    = "Request defines parameters that are not allowed (e.g., reserved properties)."
	msgNoInvokers        = "No invokers available."
	msgOverloaded        = "System is overloaded, try again later."
	msgInternal          = "An internal error occurred."
	msgPackagesMissing   = "Packages are not supported: the action name must not contain '/'."
	msgTimeoutOutOfRange = "Timeout must be number of milliseconds up to %d."
	msgTooManyPerMinute  = "Too many requests in the last minute (count: %d, allowed: %d)."
	msgTooManyInFlight   = "Too many concurrent requests in flight (count: %d, allowed: %d)."
)

// apiError is an error with the HTTP status it maps to.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *apiError {
	if len(args) == 0 {
		return &apiError{status: status, msg: format}
	}
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// malformed is a 400 with OpenWhisk's malformed-content prefix.
func malformed(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: msgMalformed + fmt.Sprintf(format, args...)}
}

// errorBody is OpenWhisk's ErrorResponse.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeError answers with err's status and message. Errors that are not
// *apiError are internal: they are logged and their text is not shown.
func (c *Controller) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		c.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "tid", tid(r), "err", err)
		ae = &apiError{status: http.StatusInternalServerError, msg: msgInternal}
	}
	writeJSON(w, ae.status, errorBody{Error: ae.msg, Code: tid(r)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types reach here; a failure is a bug, but the
		// client still deserves a well-formed answer.
		status = http.StatusInternalServerError
		b = []byte(`{"error":"` + msgInternal + `"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
