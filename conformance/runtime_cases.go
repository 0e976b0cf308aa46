package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// Reply texts the reference proxies use (reference/openwhisk.md §1.5).
const (
	msgNoCode     = "Missing main/no code to execute."
	msgNoBinary   = "The action failed to generate or locate a binary. See logs for details."
	msgNotDict    = "The action did not return a dictionary or array."
	msgNotDictOld = "The action did not return a dictionary."
	msgReinit     = "Cannot initialize the action more than once."
)

// runtimeCases are OpenWhisk's BasicActionRunnerTests and runtime suites
// as the checklist C01–C24 of reference/openwhisk.md §2.7, then the wasm
// ABI (reference/wasm.md §3.3) as W01–W08.
var runtimeCases = []runtimeCase{
	{Case{"C01", Must, "init with empty code is refused by a stub-less runtime",
		`/init {"value":{"code":"","main":""}} -> not 200 (200 if Features.CodeStub)`}, c01},
	{Case{"C02", Must, "init with no content is refused with an exact error body",
		`/init {} -> not 200, body {"error":"` + msgNoCode + `"} or {"error":"` + msgNoBinary + `"} (200 if Features.CodeStub)`}, c02},
	{Case{"C03", Must, "a result that is not an object or array is refused",
		`fixture returns a JSON string; /run {} -> not 200, body {"error":"` + msgNotDict + `"} or {"error":"` + msgNotDictOld + `"}; exactly 1 sentinel on stdout and on stderr; no other log lines (Features.EchoesBadResult: the bad line may be echoed on stdout)`}, c03},
	{Case{"C04", Must, "a second init is refused",
		`/init -> 200; second /init -> not 200, body {"error":"` + msgReinit + `"}; that message in the logs; 0 sentinels`}, c04},
	{Case{"C05", Must, "a custom entry point works",
		`/init with main "niam" -> 200; /run {"value":{"string":"hello"}} -> 200 {"string":"hello"}; streams empty; 1 sentinel each`}, c05},
	{Case{"C06", Must, "echo of four payload shapes with logs on both streams",
		`/run {"string":"hello"}, {"string":"❄ ☃ ❄"}, {"numbers":[42,1]}, {"object":{"a":"A"}} -> each 200 and echoed; stdout has "hello stdout", stderr "hello stderr"; exactly 4 sentinels each`}, c06},
	{Case{"C07", Must, "UTF-8 in source, parameters, logs and result",
		`/run {"value":{"delimiter":"❄"}} -> 200, result.winter == "❄ ☃ ❄"; stdout has "❄ ☃ ❄"; 1 sentinel each`}, c07},
	{Case{"C08", Must, "init env is visible to the action, empty values kept",
		`/init env {"SOME_VAR":"xyz","ANOTHER_VAR":""}; /run {"value":{}} -> 200, result.SOME_VAR == "xyz", result.ANOTHER_VAR == ""; streams empty; 1 sentinel each`}, c08},
	{Case{"C09", Must, "__OW_API_HOST from the sandbox env and the run context as __OW_* variables",
		`sandbox env __OW_API_HOST=xyz; /run {"value":{},"api_key":"abc","namespace":"zzz","action_name":"xxx","action_version":"0.0.1","activation_id":"iii","deadline":"123"} -> 200, result has api_host "xyz", api_key "abc", namespace "zzz", action_name "xxx", action_version "0.0.1", activation_id "iii", deadline "123"; streams empty; 1 sentinel each`}, c09},
	{Case{"C10", Must, "a ~1 MiB parameter round-trips",
		`/run {"value":{"arg":"a"×1048561}} -> the result equals the value`}, c10},
	{Case{"C11", Should, "run before init is an error",
		`/run before /init -> not 200, not 503, body an object with "error" (Go proxy: 500 {"error":"no action defined yet"}); skipped if Features.CodeStub`}, c11},
	{Case{"C12", Should, "binary (zip or source) actions initialise and run",
		`fixture C12 (binary); /init -> 200; /run {"value":{"name":"Demo"}} -> 200 with an object`}, fixtureRuns("C12", `{"name":"Demo"}`)},
	{Case{"C13", Should, "array input and array result",
		`/run {"value":["a","b"]} -> 200 ["a","b"]`}, c13},
	{Case{"C14", Should, "an exception in user code is an application error",
		`fixture C14 throws; /run -> 200, body an object with "error"; 1 sentinel each`}, c14},
	{Case{"C15", Should, "the action process exiting during /run is reported",
		`fixture C15 exits in main; /run -> 400, error contains "command exited"`}, c15},
	{Case{"C16", Should, "invalid code is refused at init, with the reason in the logs",
		`fixture C16 is not valid code for the kind; /init -> not 200; a non-sentinel log line`}, c16},
	{Case{"C17", Should, "a compile error is refused at init",
		`fixture C17 does not compile; /init -> 502`}, c17},
	{Case{"C18", Should, "the ActionLoop ack protocol",
		`Features.Ack: fixture C18 writes {"ok":false} on fd 3 before the launcher's ack; /init -> not 200, not 503, body an object with "error"`}, c18},
	{Case{"C19", Should, "concurrent runs when the runtime opts in",
		`Features.Concurrent: 8 overlapping /run calls each answer 200 with their own value; exactly 8 sentinels each`}, c19},
	{Case{"C20", Should, "an application error passes through",
		`fixture returns {"error":"sorry"}; /run -> 200, body {"error":"sorry"}; 1 sentinel each`}, c20},
	{Case{"C21", Should, "a large (>= 500 KB) source initialises",
		`fixture C21 of >= 500000 bytes; /init -> 200; /run {"value":{}} -> 200`}, c21},
	{Case{"C22", Should, "zipped actions run in their extraction directory",
		`fixture C22 reads a file by a relative path; /init -> 200; /run {"value":{}} -> 200 with an object`}, fixtureRuns("C22", `{}`)},
	{Case{"C23", Should, "a run past its deadline ends promptly and is not a success",
		`fixture loops forever; /run with a 500 ms deadline returns within 2.5 s with an error or a non-200 reply (the platform then destroys the sandbox)`}, c23},
	{Case{"C24", Should, "a 503 reply reschedules the activation",
		`platform behaviour: the invoker, not the runtime`}, c24},

	{Case{"W01", Must, "the run context reaches the guest as __OW_* environment variables",
		`/run with namespace, action_name, action_version, activation_id, transaction_id, deadline, api_key and a number "n" -> env has __OW_NAMESPACE ... __OW_API_KEY equal to them; no __OW_VALUE, no __OW_N; a second run sees its own values`}, w01},
	{Case{"W02", Must, "the guest reads the envelope as exactly one line on stdin",
		`/run with a pretty-printed (multi-line) body -> stdin holds one line ending in "\n" that is the envelope, JSON-equal to the body`}, w02},
	{Case{"W03", Must, "the last stdout line is the result; earlier ones are logs",
		`guest writes "hello stdout", {"not":"result"}, {"result":true} on stdout -> 200 {"result":true}; stdout logs exactly ["hello stdout", {"not":"result"}]; 1 sentinel each`}, w03},
	{Case{"W04", Must, "stderr is logs, never the result",
		`guest writes "hello stderr", {"stderr":true} on stderr -> result {"result":true}; stderr logs exactly ["hello stderr", {"stderr":true}]`}, w04},
	{Case{"W05", Must, "a result that is not an object or array is a 502",
		`guest writes 42 -> 502 {"error":"` + msgNotDict + `"}; 1 sentinel each`}, w05},
	{Case{"W06", Must, "a trap is a developer error",
		`guest writes {"partial":true} then traps -> not 200, not 503, body an object with "error" (not the partial line); 1 sentinel each`}, w06},
	{Case{"W07", Must, "a non-zero exit is a developer error",
		`guest writes {"partial":true} then exits 3 -> not 200, not 503, body an object with "error"; 1 sentinel each`}, w07},
	{Case{"W08", Must, "in instance mode no state leaks between activations",
		`Features.FreshInstance: three /run of a guest counting in memory and in a global -> each {"memory":1,"global":1}`}, w08},
}

func c01(x *caseCtx) error {
	b, err := x.box(SandboxOptions{})
	if err != nil {
		return err
	}
	r, err := b.initRaw([]byte(`{"value":{"code":"","main":"","binary":false,"env":null}}`))
	if err != nil {
		return err
	}
	if x.t.Features.CodeStub {
		return wantStatus(r, 200)
	}
	return wantNot200(r)
}

func c02(x *caseCtx) error {
	b, err := x.box(SandboxOptions{})
	if err != nil {
		return err
	}
	r, err := b.initRaw([]byte(`{}`))
	if err != nil {
		return err
	}
	if x.t.Features.CodeStub {
		return wantStatus(r, 200)
	}
	return all(wantNot200(r), wantErrorBody(r.Body, msgNoCode, msgNoBinary))
}

func c03(x *caseCtx) error {
	b, err := x.initOK("C03", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.run([]byte(`{}`))
	if err != nil {
		return err
	}
	empty := b.checkEmpty(m, 1)
	if x.t.Features.EchoesBadResult && b.col != nil {
		empty = nil
		if out, errs := b.streams(m, 1); len(out) > 1 || len(errs) > 0 {
			empty = fmt.Errorf("streams: stdout %q, stderr %q; want at most the echoed result on stdout", out, errs)
		}
	}
	return all(wantNot200(r), wantErrorBody(r.Body, msgNotDict, msgNotDictOld),
		b.checkSentinels(m, 1), empty)
}

func c04(x *caseCtx) error {
	fx, err := x.fixture("C04")
	if err != nil {
		return err
	}
	b, err := x.initOK("C04", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.init(fx, "main", nil)
	if err != nil {
		return err
	}
	return all(wantNot200(r), wantErrorBody(r.Body, msgReinit),
		b.checkContains(m, "", msgReinit, false), b.checkSentinels(m, 0))
}

func c05(x *caseCtx) error {
	b, err := x.initOK("C05", "niam", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.runValue(map[string]string{"string": "hello"})
	if err != nil {
		return err
	}
	return all(wantStatus(r, 200), wantJSON(r.Body, `{"string":"hello"}`),
		b.checkSentinels(m, 1), b.checkEmpty(m, 1))
}

func c06(x *caseCtx) error {
	b, err := x.initOK("C06", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	payloads := []string{`{"string":"hello"}`, `{"string":"❄ ☃ ❄"}`, `{"numbers":[42,1]}`, `{"object":{"a":"A"}}`}
	for _, p := range payloads {
		r, err := b.runValue(json.RawMessage(p))
		if err != nil {
			return err
		}
		if err := all(wantStatus(r, 200), wantJSON(r.Body, p)); err != nil {
			return fmt.Errorf("payload %s: %w", p, err)
		}
	}
	return all(b.checkSentinels(m, 4),
		b.checkContains(m, "stdout", "hello stdout", false),
		b.checkContains(m, "stderr", "hello stderr", false))
}

func c07(x *caseCtx) error {
	b, err := x.initOK("C07", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.runValue(map[string]string{"delimiter": "❄"})
	if err != nil {
		return err
	}
	if err := wantStatus(r, 200); err != nil {
		return err
	}
	res, err := object(r.Body)
	if err != nil {
		return err
	}
	if res["winter"] != "❄ ☃ ❄" {
		return fmt.Errorf("result.winter = %v, want %q", res["winter"], "❄ ☃ ❄")
	}
	return all(b.checkContains(m, "stdout", "❄ ☃ ❄", true), b.checkSentinels(m, 1))
}

// wantFields wants the object body to have these string fields.
func wantFields(body []byte, want map[string]string) error {
	res, err := object(body)
	if err != nil {
		return err
	}
	var bad []string
	for k, v := range want {
		if got, ok := res[k]; !ok || got != v {
			bad = append(bad, fmt.Sprintf("%s = %#v, want %q", k, got, v))
		}
	}
	if bad != nil {
		return fmt.Errorf("result: %s", strings.Join(bad, "; "))
	}
	return nil
}

func c08(x *caseCtx) error {
	b, err := x.initOK("C08", "main", SandboxOptions{}, map[string]string{"SOME_VAR": "xyz", "ANOTHER_VAR": ""})
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.runValue(map[string]any{})
	if err != nil {
		return err
	}
	return all(wantStatus(r, 200), wantFields(r.Body, map[string]string{"SOME_VAR": "xyz", "ANOTHER_VAR": ""}),
		b.checkSentinels(m, 1), b.checkEmpty(m, 1))
}

func c09(x *caseCtx) error {
	b, err := x.initOK("C09", "main", SandboxOptions{Env: map[string]string{"__OW_API_HOST": "xyz"}}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.run([]byte(`{"value":{},"api_key":"abc","namespace":"zzz","action_name":"xxx","action_version":"0.0.1","activation_id":"iii","deadline":"123"}`))
	if err != nil {
		return err
	}
	return all(wantStatus(r, 200), wantFields(r.Body, map[string]string{
		"api_host": "xyz", "api_key": "abc", "namespace": "zzz", "action_name": "xxx",
		"action_version": "0.0.1", "activation_id": "iii", "deadline": "123",
	}), b.checkSentinels(m, 1), b.checkEmpty(m, 1))
}

func c10(x *caseCtx) error {
	b, err := x.initOK("C10", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	v := map[string]string{"arg": strings.Repeat("a", 1048561)}
	r, err := b.runValue(v)
	if err != nil {
		return err
	}
	return wantJSON(r.Body, v)
}

func c11(x *caseCtx) error {
	if x.t.Features.CodeStub {
		return skipf("the runtime declares a code stub, which runs without /init")
	}
	b, err := x.box(SandboxOptions{})
	if err != nil {
		return err
	}
	r, err := b.runValue(map[string]any{})
	if err != nil {
		return err
	}
	return wantDeveloperError(r)
}

// fixtureRuns is a case that only needs its fixture to init and run.
func fixtureRuns(id, value string) func(x *caseCtx) error {
	return func(x *caseCtx) error {
		b, err := x.initOK(id, "main", SandboxOptions{}, nil)
		if err != nil {
			return err
		}
		r, err := b.runValue(json.RawMessage(value))
		if err != nil {
			return err
		}
		if err := wantStatus(r, 200); err != nil {
			return err
		}
		_, err = object(r.Body)
		return err
	}
}

func c13(x *caseCtx) error {
	b, err := x.initOK("C13", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	r, err := b.runValue([]string{"a", "b"})
	if err != nil {
		return err
	}
	return all(wantStatus(r, 200), wantJSON(r.Body, `["a","b"]`))
}

func c14(x *caseCtx) error {
	if _, ok := x.t.Fixtures["C14"]; !ok {
		if x.t.Features.WasmABI {
			return skipf("the wasm ABI has no exceptions: a trap is a developer error (W06)")
		}
		if !x.t.Features.Exceptions {
			return skipf("Features.Exceptions not declared and no fixture for C14")
		}
	}
	b, err := x.initOK("C14", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.runValue(map[string]any{})
	if err != nil {
		return err
	}
	if err := wantStatus(r, 200); err != nil {
		return err
	}
	res, err := object(r.Body)
	if err != nil {
		return err
	}
	if _, ok := res["error"]; !ok {
		return fmt.Errorf("body %s has no \"error\" field", short(r.Body))
	}
	return b.checkSentinels(m, 1)
}

func c15(x *caseCtx) error {
	if x.t.Features.WasmABI {
		if _, ok := x.t.Fixtures["C15"]; !ok {
			return skipf("ActionLoop process exits; for the wasm ABI a non-zero exit is W07")
		}
	}
	b, err := x.initOK("C15", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	r, err := b.runValue(map[string]any{})
	if err != nil {
		return err
	}
	if err := wantStatus(r, 400); err != nil {
		return err
	}
	if !strings.Contains(string(r.Body), "command exited") {
		return fmt.Errorf("body %s lacks \"command exited\"", short(r.Body))
	}
	return nil
}

func c16(x *caseCtx) error {
	fx, err := x.fixture("C16")
	if err != nil {
		return err
	}
	b, err := x.box(SandboxOptions{})
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.init(fx, "main", nil)
	if err != nil {
		return err
	}
	if err := wantNot200(r); err != nil {
		return err
	}
	if b.col == nil {
		return nil
	}
	out, errs := b.streams(m, 0)
	if len(out)+len(errs) == 0 {
		// Logs may trail the reply: wait for the first line.
		lines := b.col.wait(m, x.t.logWait(), func(ls []sdk.LogLine) bool { return len(text(ls, "")) > 0 })
		if len(text(lines, "")) == 0 {
			return fmt.Errorf("no error text in the logs")
		}
	}
	return nil
}

func c17(x *caseCtx) error {
	fx, err := x.fixture("C17")
	if err != nil {
		if x.t.Features.WasmABI {
			return skipf("wasm has no compile step apart from validation, which C16 covers")
		}
		return err
	}
	b, err := x.box(SandboxOptions{})
	if err != nil {
		return err
	}
	r, err := b.init(fx, "main", nil)
	if err != nil {
		return err
	}
	return wantStatus(r, 502)
}

// c18 checks the ack from the proxy's side: the fixture writes a bad ack
// ({"ok":false}) on fd 3 while it loads, before the launcher's own. A proxy
// that waits for the ack must refuse /init; one that does not would answer
// 200 and hand the bad line to the first /run as its result.
func c18(x *caseCtx) error {
	if !x.t.Features.Ack {
		return skipf("Features.Ack not declared (an ActionLoop runtime started with OW_WAIT_FOR_ACK)")
	}
	fx, err := x.fixture("C18")
	if err != nil {
		return err
	}
	b, err := x.box(SandboxOptions{})
	if err != nil {
		return err
	}
	r, err := b.init(fx, "main", nil)
	if err != nil {
		return err
	}
	return wantDeveloperError(r)
}

func c19(x *caseCtx) error {
	if !x.t.Features.Concurrent {
		return skipf("Features.Concurrent not declared")
	}
	b, err := x.initOK("C19", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v := map[string]int{"i": i}
			r, err := b.runValue(v)
			if err == nil {
				err = all(wantStatus(r, 200), wantJSON(r.Body, v))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return all(all(errs...), b.checkSentinels(m, n))
}

func c20(x *caseCtx) error {
	b, err := x.initOK("C20", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.runValue(map[string]any{})
	if err != nil {
		return err
	}
	return all(wantStatus(r, 200), wantJSON(r.Body, `{"error":"sorry"}`), b.checkSentinels(m, 1))
}

func c21(x *caseCtx) error {
	fx, err := x.fixture("C21")
	if err != nil {
		return err
	}
	if len(fx.Code) < 500000 {
		return fmt.Errorf("fixture %s has %d bytes, the case needs >= 500000", fx.Source, len(fx.Code))
	}
	return fixtureRuns("C21", `{}`)(x)
}

func c23(x *caseCtx) error {
	b, err := x.initOK("C23", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	const deadline, grace = 500 * time.Millisecond, 2 * time.Second
	ctx, cancel := context.WithTimeout(x.ctx, deadline)
	defer cancel()
	start := time.Now()
	done := make(chan struct{})
	var r *sdk.Reply
	var rerr error
	go func() {
		defer close(done)
		r, rerr = b.sb.Conn.Run(ctx, []byte(`{"value":{}}`))
	}()
	select {
	case <-done:
	case <-time.After(deadline + grace):
		return fmt.Errorf("/run still running %v after a %v deadline", time.Since(start).Round(time.Millisecond), deadline)
	}
	if rerr == nil && r.Status == 200 {
		return fmt.Errorf("/run past its deadline answered 200 %s", short(r.Body))
	}
	return nil
}

func c24(x *caseCtx) error {
	return skipf("platform behaviour (503 -> reschedule) belongs to the invoker, not to a runtime")
}
