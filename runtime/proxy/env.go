package proxy

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// actionEnv is the environment an ActionLoop child gets, and nothing else
// (OpenWhisk's Go proxy does the same): the proxy's own __OW_* variables,
// the proxy's markers, then the /init env on top.
func (p *Proxy) actionEnv(initEnv map[string]string) map[string]string {
	m := map[string]string{}
	for _, kv := range p.opt.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "__OW_") {
			m[k] = v
		}
	}
	m["__OW_PROXY_VERSION"] = Version
	if v := lookup(p.opt.Env, "OW_EXECUTION_ENV"); v != "" {
		m["__OW_EXECUTION_ENV"] = v
	}
	if p.opt.WaitForAck {
		m["__OW_WAIT_FOR_ACK"] = "true"
	}
	for k, v := range initEnv {
		m[k] = v
	}
	return m
}

// environ turns a map into os/exec form, sorted so children see a stable
// order.
func environ(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// stringify applies OpenWhisk's rule for init env values: strings as is,
// null as "", anything else as compact JSON (which is also how booleans and
// numbers print).
func stringify(raw map[string]json.RawMessage) map[string]string {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		switch {
		case json.Unmarshal(v, &s) == nil:
		case string(v) == "null":
		default:
			s = compact(v)
		}
		out[k] = s
	}
	return out
}

func compact(v []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String()
	}
	return string(v)
}

// runEnv returns the per-activation variables of a /run body: every
// top-level string field except "value", as __OW_<UPPER KEY>.
func runEnv(fields map[string]json.RawMessage) map[string]string {
	out := map[string]string{}
	for k, v := range fields {
		if k == "value" {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			out["__OW_"+strings.ToUpper(k)] = s
		}
	}
	return out
}
