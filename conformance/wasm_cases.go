package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// The W cases check "ActionLoop over WASI stdio" (reference/wasm.md §3.3)
// through /init and /run, with guests that report what they saw.

func wasmOnly(x *caseCtx) error {
	if !x.t.Features.WasmABI {
		return skipf("Features.WasmABI not declared (kind %q)", x.t.Kind)
	}
	return nil
}

// envelope builds a /run body with "value" first and the given string
// fields in order, plus extra raw fields.
func envelope(value string, fields [][2]string, raw string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"value":`)
	b.WriteString(value)
	for _, f := range fields {
		k, _ := json.Marshal(f[0])
		v, _ := json.Marshal(f[1])
		fmt.Fprintf(&b, ",%s:%s", k, v)
	}
	b.WriteString(raw)
	b.WriteString("}")
	return b.Bytes()
}

func w01(x *caseCtx) error {
	if err := wasmOnly(x); err != nil {
		return err
	}
	b, err := x.initOK("W01", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	for i, suffix := range []string{"1", "2"} {
		fields := [][2]string{
			{"namespace", "ns" + suffix},
			{"action_name", "/ns" + suffix + "/pkg/act"},
			{"action_version", "0.0." + suffix},
			{"activation_id", "0123456789abcdef0123456789abcde" + suffix},
			{"transaction_id", "tx" + suffix},
			{"deadline", "170000000000" + suffix},
			{"api_key", "uuid:key" + suffix},
		}
		r, err := b.run(envelope(`{"x":1}`, fields, `,"n":5`))
		if err != nil {
			return err
		}
		if err := wantStatus(r, 200); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		want := map[string]string{}
		for _, f := range fields {
			want["__OW_"+upper(f[0])] = f[1]
		}
		if err := wantFields(r.Body, want); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		res, _ := object(r.Body)
		for _, k := range []string{"__OW_VALUE", "__OW_N"} {
			if v, ok := res[k]; ok {
				return fmt.Errorf("run %d: %s = %v exported, want only string fields other than value", i+1, k, v)
			}
		}
	}
	return nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func w02(x *caseCtx) error {
	if err := wasmOnly(x); err != nil {
		return err
	}
	b, err := x.initOK("W02", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	compact := envelope(`{"text":"two\nlines","list":[1,2]}`,
		[][2]string{{"namespace", "conformance"}, {"activation_id", "w02"}, {"deadline", "1"}}, "")
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, compact, "", "  "); err != nil {
		return err
	}
	r, err := b.run(pretty.Bytes())
	if err != nil {
		return err
	}
	if err := wantStatus(r, 200); err != nil {
		return err
	}
	var got struct {
		Newlines int             `json:"newlines"`
		Envelope json.RawMessage `json:"envelope"`
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		return fmt.Errorf("result %s: %v", short(r.Body), err)
	}
	if got.Newlines != 1 {
		return fmt.Errorf("stdin had %d newlines, want exactly 1 (one line)", got.Newlines)
	}
	var a, e any
	if err := json.Unmarshal(got.Envelope, &a); err != nil {
		return fmt.Errorf("stdin line %s is not JSON: %v", short(got.Envelope), err)
	}
	_ = json.Unmarshal(compact, &e)
	if !reflect.DeepEqual(a, e) {
		return fmt.Errorf("stdin line %s, want the envelope %s", short(got.Envelope), compact)
	}
	return nil
}

// logsRun runs the W03/W04 guest and returns the reply and its log lines.
func logsRun(x *caseCtx, id string) (*box, int, []byte, error) {
	if err := wasmOnly(x); err != nil {
		return nil, 0, nil, err
	}
	b, err := x.initOK(id, "main", SandboxOptions{}, nil)
	if err != nil {
		return nil, 0, nil, err
	}
	m := b.mark()
	r, err := b.runValue(map[string]any{})
	if err != nil {
		return nil, 0, nil, err
	}
	if err := all(wantStatus(r, 200), wantJSON(r.Body, `{"result":true}`)); err != nil {
		return nil, 0, nil, err
	}
	return b, m, r.Body, b.checkSentinels(m, 1)
}

func wantLines(stream string, got, want []string) error {
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		return fmt.Errorf("%s log lines %q, want %q", stream, got, want)
	}
	return nil
}

func w03(x *caseCtx) error {
	b, m, _, err := logsRun(x, "W03")
	if err != nil || b.col == nil {
		return err
	}
	out, _ := b.streams(m, 1)
	return wantLines("stdout", out, []string{"hello stdout", `{"not":"result"}`})
}

func w04(x *caseCtx) error {
	b, m, _, err := logsRun(x, "W04")
	if err != nil || b.col == nil {
		return err
	}
	_, errs := b.streams(m, 1)
	return wantLines("stderr", errs, []string{"hello stderr", `{"stderr":true}`})
}

func w05(x *caseCtx) error {
	if err := wasmOnly(x); err != nil {
		return err
	}
	b, err := x.initOK("W05", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.runValue(map[string]any{})
	if err != nil {
		return err
	}
	return all(wantStatus(r, 502), wantErrorBody(r.Body, msgNotDict), b.checkSentinels(m, 1))
}

// developerError runs a guest that writes {"partial":true} and then fails.
func developerError(x *caseCtx, id string) error {
	if err := wasmOnly(x); err != nil {
		return err
	}
	b, err := x.initOK(id, "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	m := b.mark()
	r, err := b.runValue(map[string]any{})
	if err != nil {
		return err
	}
	return all(wantDeveloperError(r), b.checkSentinels(m, 1))
}

func w06(x *caseCtx) error { return developerError(x, "W06") }
func w07(x *caseCtx) error { return developerError(x, "W07") }

func w08(x *caseCtx) error {
	if err := wasmOnly(x); err != nil {
		return err
	}
	if !x.t.Features.FreshInstance {
		return skipf("Features.FreshInstance not declared (loop mode keeps state by design)")
	}
	b, err := x.initOK("W08", "main", SandboxOptions{}, nil)
	if err != nil {
		return err
	}
	for i := range 3 {
		r, err := b.runValue(map[string]any{})
		if err != nil {
			return err
		}
		if err := all(wantStatus(r, 200), wantJSON(r.Body, `{"memory":1,"global":1}`)); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
	}
	return nil
}
