package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Body size caps. An action PUT may carry 48 MiB of code in JSON; an
// invoke carries at most the 1 MiB payload plus room for JSON overhead.
const (
	maxPutBody    = 50 << 20
	maxInvokeBody = 1<<20 + 64<<10
)

// readBody reads at most limit bytes of r's body; more is a 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	b, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errorf(http.StatusRequestEntityTooLarge,
				"The request content was too large: more than %d bytes.", limit)
		}
		return nil, errorf(http.StatusBadRequest, msgMalformed+"cannot read the body: %v", err)
	}
	return b, nil
}

// decodeJSON decodes b into v and turns decoder errors into 400s that
// name the field at fault.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("unexpected data after the JSON value")
	}
	return nil
}

func jsonError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return malformed("expected a JSON %s, got %s", goTypeName(te.Type.Kind().String()), te.Value)
		}
		return malformed("field '%s' must be a %s, got %s", field, goTypeName(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return malformed("invalid JSON at offset %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("unexpected end of JSON input")
	}
	return malformed("%v", err)
}

// goTypeName says what JSON a Go kind expects.
func goTypeName(kind string) string {
	switch kind {
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "number"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return kind
}

// boolParam reads an optional boolean query parameter.
func boolParam(q url.Values, name string, def bool) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, errorf(http.StatusBadRequest, "The parameter '%s' must be true or false, got %q.", name, s)
	}
	return v, nil
}

// listParams reads limit and skip (OpenWhisk's ListLimit and ListSkip).
// limit 0, which openwhisk-client-go always sends, means the default.
func listParams(q url.Values, collection string, defLimit, maxLimit int) (skip, limit int, err error) {
	limit = defLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, errorf(http.StatusBadRequest, "The value '%s' is not an integer.", s)
		}
		if n < 0 || n > maxLimit {
			return 0, 0, errorf(http.StatusBadRequest, "The value '%d' is not in the range of 0 to %d for %s.", n, maxLimit, collection)
		}
		if n > 0 {
			limit = n
		}
	}
	if s := q.Get("skip"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, errorf(http.StatusBadRequest, "The value '%s' is not an integer.", s)
		}
		if n < 0 {
			return 0, 0, errorf(http.StatusBadRequest, "The value '%d' is not greater than or equal to 0.", n)
		}
		skip = n
	}
	return skip, limit, nil
}

// int64Param reads an optional integer query parameter.
func int64Param(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, "The parameter '%s' must be a non-negative integer (epoch ms), got %q.", name, s)
	}
	return n, nil
}
