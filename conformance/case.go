package conformance

import (
	"errors"
	"fmt"
	"time"
)

// Level says how binding a case is.
type Level string

const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
)

// Status is a case's outcome.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Case describes one check.
type Case struct {
	ID     string // C01.., W01.. (runtime suite), B01.. (backend suite)
	Level  Level
	Desc   string // one line
	Expect string // the exact expectation
}

// Result is the outcome of one case.
type Result struct {
	Case
	Status   Status
	Why      string // the failure, the reason for a skip, or notes on a pass
	Duration time.Duration
}

// skipError ends a case as skipped.
type skipError struct{ why string }

func (e *skipError) Error() string { return e.why }

func skipf(format string, args ...any) error {
	return &skipError{fmt.Sprintf(format, args...)}
}

// result turns what a case returned into a Result.
func result(c Case, err error, notes []string, d time.Duration) Result {
	r := Result{Case: c, Status: Pass, Duration: d}
	var se *skipError
	switch {
	case errors.As(err, &se):
		r.Status, r.Why = Skip, se.why
	case err != nil:
		r.Status, r.Why = Fail, err.Error()
	}
	for _, n := range notes {
		if r.Why != "" {
			r.Why += "; "
		}
		r.Why += n
	}
	return r
}
