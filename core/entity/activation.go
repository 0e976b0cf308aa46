package entity

import (
	"bytes"
	"encoding/json"
)

// Status codes of an activation, as OpenWhisk numbers them.
const (
	StatusSuccess        = 0
	StatusApplication    = 1 // the action returned {"error": ...}
	StatusDeveloperError = 2 // the action failed: bad init, crash, timeout, bad result
	StatusWhiskError     = 3 // the platform failed
)

// StatusText is the "status" string for a status code.
func StatusText(code int) string {
	switch code {
	case StatusSuccess:
		return "success"
	case StatusApplication:
		return "application error"
	case StatusDeveloperError:
		return "action developer error"
	default:
		return "whisk internal error"
	}
}

// Activation is the record of one invocation. Its JSON is OpenWhisk's.
type Activation struct {
	Namespace    string    `json:"namespace"`
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	Subject      string    `json:"subject"`
	ActivationID string    `json:"activationId"`
	Start        int64     `json:"start"` // epoch ms
	End          int64     `json:"end"`
	Duration     int64     `json:"duration"` // ms
	StatusCode   int       `json:"statusCode"`
	Response     Response  `json:"response"`
	Logs         []string  `json:"logs"`
	Annotations  KeyValues `json:"annotations"`
	Publish      bool      `json:"publish"`
}

// Response is an activation's outcome.
type Response struct {
	Status     string          `json:"status"`
	StatusCode int             `json:"statusCode"`
	Success    bool            `json:"success"`
	Result     json.RawMessage `json:"result,omitempty"`
	Size       int             `json:"size,omitempty"`
}

// NewResponse builds a Response for a status code and result.
func NewResponse(code int, result json.RawMessage) Response {
	return Response{
		Status:     StatusText(code),
		StatusCode: code,
		Success:    code == StatusSuccess,
		Result:     result,
		Size:       len(result),
	}
}

// ErrorResult is the result object {"error": msg}. It does not escape
// HTML, so messages read as OpenWhisk prints them ("1048586 > 1048576").
func ErrorResult(msg string) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"error": msg})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
