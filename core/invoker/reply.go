package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/sdk"
)

// outcome is how an /init or /run call ended, read per reference/openwhisk.md
// §1.6: the activation status, its result and whether the sandbox may be
// used again (only success and application error keep it).
type outcome struct {
	code    int
	result  json.RawMessage
	keep    bool
	timeout bool
	// lost: the sandbox stopped answering mid-call (it died); its log
	// stream may say why.
	lost bool
	// reschedule: the proxy answered 503, "shutting down": the activation
	// is not its fault and runs again on another sandbox.
	reschedule bool
	// silent: no request reached the sandbox, so it wrote no logs (and no
	// sentinels) to wait for.
	silent bool
}

// msgShuttingDown is the result when a sandbox keeps answering 503.
const msgShuttingDown = "The action's sandbox was shutting down."

func shuttingDown() outcome {
	o := failed(entity.StatusWhiskError, msgShuttingDown)
	o.reschedule = true
	return o
}

func failed(code int, msg string) outcome {
	return outcome{code: code, result: entity.ErrorResult(msg)}
}

// timedOut reports whether a call failed because its own deadline passed.
func timedOut(ctx context.Context, err error) bool {
	return err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// initOutcome reads an /init reply; ok means go on to /run.
func initOutcome(ctx context.Context, rep *sdk.Reply, err error, timeoutMS int) (o outcome, ok bool) {
	switch {
	case timedOut(ctx, err):
		o = failed(entity.StatusDeveloperError, fmt.Sprintf("The action exceeded its time limits of %d milliseconds during initialization.", timeoutMS))
		o.timeout = true
		return o, false
	case err != nil:
		o = failed(entity.StatusDeveloperError, "The action did not initialize and exited unexpectedly.")
		o.lost = true
		return o, false
	case rep.Status == 200:
		return outcome{keep: true}, true
	case rep.Status == 503:
		return shuttingDown(), false
	}
	if e := errorField(rep.Body); e != nil {
		return outcome{code: entity.StatusDeveloperError, result: wrapError(e)}, false
	}
	return failed(entity.StatusDeveloperError, "The action failed during initialization: "+string(rep.Body)), false
}

// runOutcome reads a /run reply.
func runOutcome(ctx context.Context, rep *sdk.Reply, err error, timeoutMS int) outcome {
	switch {
	case timedOut(ctx, err):
		o := failed(entity.StatusDeveloperError, fmt.Sprintf("The action exceeded its time limits of %d milliseconds.", timeoutMS))
		o.timeout = true
		return o
	case err != nil:
		o := failed(entity.StatusDeveloperError, "The action did not produce a valid response and exited unexpectedly.")
		o.lost = true
		return o
	}
	if rep.Status == 503 {
		return shuttingDown()
	}
	body := rep.Body
	if len(body) > entity.MaxResultBytes {
		cut := strings.ToValidUTF8(string(body[:entity.MaxResultBytes]), "")
		o := failed(entity.StatusApplication, fmt.Sprintf(
			"The action produced a response that exceeded the allowed length: %d > %d bytes. The truncated response was: %s",
			len(body), entity.MaxResultBytes, cut))
		o.keep = true
		return o
	}
	body = bytes.TrimSpace(body)
	if rep.Status == 200 && len(body) > 0 && json.Valid(body) {
		switch body[0] {
		case '[':
			return outcome{code: entity.StatusSuccess, result: body, keep: true}
		case '{':
			if errorField(body) != nil {
				return outcome{code: entity.StatusApplication, result: body, keep: true}
			}
			return outcome{code: entity.StatusSuccess, result: body, keep: true}
		}
	}
	if rep.Status != 200 {
		if e := errorField(body); e != nil {
			return outcome{code: entity.StatusDeveloperError, result: wrapError(e)}
		}
	}
	return failed(entity.StatusDeveloperError, "The action did not produce a valid JSON or JSON Array response: "+string(rep.Body))
}

// errorField returns the value of the top-level "error" key of a JSON
// object, or nil. The cheap substring test keeps the common success path
// from decoding the result.
func errorField(body []byte) json.RawMessage {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !bytes.Contains(body, []byte(`"error"`)) {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	return m["error"]
}

func wrapError(v json.RawMessage) json.RawMessage {
	out := make([]byte, 0, len(v)+10)
	out = append(out, `{"error":`...)
	out = append(out, v...)
	return append(out, '}')
}
