package entity

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxNameLength bounds entity and namespace names, as OpenWhisk's
// EntityName does.
const MaxNameLength = 256

// nameRE is OpenWhisk's EntityName.REGEX. \w is ASCII in both Java (without
// UNICODE_CHARACTER_CLASS) and Go, so names match exactly what OpenWhisk
// accepts.
var nameRE = regexp.MustCompile(`\A(\w|\w[\w@ .-]*[\w@.-]+)\z`)

// ValidateName checks an action, package or namespace name. what names
// the thing in the error ("action name").
func ValidateName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("%s is longer than %d characters", what, MaxNameLength)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%s %q is not a valid name: use letters, digits, '_', '@', '.', '-' and inner spaces, starting with a letter, digit or '_'", what, name)
	}
	return nil
}

// ValidateLimits checks that every limit is within the system bounds
// (reference/openwhisk.md §3.9). Messages follow OpenWhisk's wording.
func ValidateLimits(l ActionLimits) error {
	switch {
	case l.Timeout < MinTimeout:
		return fmt.Errorf("duration %d ms below allowed threshold of %d ms", l.Timeout, MinTimeout)
	case l.Timeout > MaxTimeout:
		return fmt.Errorf("duration %d ms exceeds allowed threshold of %d ms", l.Timeout, MaxTimeout)
	case l.Memory < MinMemory:
		return fmt.Errorf("memory %d MB below allowed threshold of %d MB", l.Memory, MinMemory)
	case l.Memory > MaxMemory:
		return fmt.Errorf("memory %d MB exceeds allowed threshold of %d MB", l.Memory, MaxMemory)
	case l.Logs < MinLogs:
		return fmt.Errorf("log size %d MB below allowed threshold of %d MB", l.Logs, MinLogs)
	case l.Logs > MaxLogs:
		return fmt.Errorf("log size %d MB exceeds allowed threshold of %d MB", l.Logs, MaxLogs)
	case l.Concurrency < MinConcurrency:
		return fmt.Errorf("concurrency %d below allowed threshold of %d", l.Concurrency, MinConcurrency)
	case l.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d exceeds allowed threshold of %d", l.Concurrency, MaxConcurrency)
	}
	return nil
}

// SizeError says that a field is larger than allowed. The API maps it to
// 413.
type SizeError struct {
	Field   string
	Size    int
	Allowed int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s larger than allowed: %d > %d bytes.", e.Field, e.Size, e.Allowed)
}

// ParametersSize is the size OpenWhisk charges parameters with: keys plus
// their JSON values.
func ParametersSize(kv KeyValues) int {
	n := 0
	for _, p := range kv {
		n += len(p.Key) + len(p.Value)
	}
	return n
}

// ValidateParameters checks keys and the total size; what is "parameters"
// or "annotations". A size violation is a *SizeError.
func ValidateParameters(what string, kv KeyValues) error {
	seen := make(map[string]bool, len(kv))
	for i, p := range kv {
		if p.Key == "" {
			return fmt.Errorf("%s[%d]: key is empty", what, i)
		}
		if seen[p.Key] {
			return fmt.Errorf("%s: key %q is listed twice", what, p.Key)
		}
		seen[p.Key] = true
	}
	if n := ParametersSize(kv); n > MaxParameterBytes {
		return &SizeError{Field: strings.ToUpper(what[:1]) + what[1:], Size: n, Allowed: MaxParameterBytes}
	}
	return nil
}

// ValidateCode checks the code size; a violation is a *SizeError.
func ValidateCode(code string) error {
	if len(code) > MaxCodeBytes {
		return &SizeError{Field: "Code", Size: len(code), Allowed: MaxCodeBytes}
	}
	return nil
}

// IsBinaryCode is OpenWhisk's Exec.isBinaryCode: the trimmed code is
// non-empty, a multiple of 4 long and all base64 (padding only at the
// end). It scans bytes instead of running OpenWhisk's regex, because code
// may be 48 MiB.
func IsBinaryCode(code string) bool {
	t := strings.TrimSpace(code)
	if len(t) == 0 || len(t)%4 != 0 {
		return false
	}
	pad := 0
	switch {
	case strings.HasSuffix(t, "=="):
		pad = 2
	case strings.HasSuffix(t, "="):
		pad = 1
	}
	for i := 0; i < len(t)-pad; i++ {
		c := t[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// ValidateIdentity checks a subject before it is stored: a valid namespace
// name, a UUID-like user, and a key of at least 16 characters (OpenWhisk's
// generated keys have 64), none of them containing ':'.
func ValidateIdentity(id *Identity) error {
	if err := ValidateName("namespace", id.Namespace); err != nil {
		return err
	}
	switch {
	case id.UUID == "" || strings.ContainsAny(id.UUID, ": \t"):
		return fmt.Errorf("the subject's uuid %q must be non-empty, without ':' or spaces", id.UUID)
	case len(id.Key) < 16 || strings.ContainsAny(id.Key, ": \t"):
		return fmt.Errorf("the subject's key must have at least 16 characters, without ':' or spaces")
	}
	return nil
}
