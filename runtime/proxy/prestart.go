package proxy

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Prestart takes the interpreter's start-up off /init. A stem-cell sandbox
// is started before its action is known, so the proxy starts the launcher
// right away with no arguments, and the launcher waits, interpreter up and
// no user code loaded. /init then only unpacks the code and sends the
// launcher one line on stdin,
//
//	{"dir": …, "main": …, "kind": "file"|"archive", "env": ["K=V", …]}
//
// after which the launcher's argv and environment are what a launcher
// started at /init would have had (env is the whole child environment in
// exec order, a superset of what the launcher inherited), it loads the
// code and acks on fd 3 as usual. A launcher started at /init is still the fallback: when
// the prestarted one has died, or when the init env names a variable the
// interpreter reads only when it starts (NODE_OPTIONS, PYTHONPATH, LANG,
// …), which a running interpreter cannot honour.

// canPrestart reports whether this proxy prestarts its launcher. The
// launcher answers the load line on fd 3, so only proxies that wait for
// that ack use it: without ack, a load failure must look as it does today.
func (o *Options) canPrestart() bool {
	return o.Prestart && o.Mode == ModeLoop && len(o.Launcher) > 0 && o.WaitForAck
}

// prestart starts the launcher with no action. Its environment is the
// action env without init env: only __OW_* variables, which the load line
// then overrides or keeps. It runs in / because the action directory may
// not exist yet; the launcher moves into it when it loads. A failure is
// not an error: /init starts a launcher as it would without prestart.
func (p *Proxy) prestart() {
	l, _, err := spawn(p.opt.Launcher, "/", environ(p.actionEnv(nil)), p.stdout.file, p.stderr.file, false)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.pre = l
	p.mu.Unlock()
}

// takePrestarted hands over the prestarted launcher if it can run an
// action with env, and otherwise stops it. The proxy prestarts once: a
// later /init (after a failed one) starts its own launcher.
func (p *Proxy) takePrestarted(env map[string]string) *loop {
	p.mu.Lock()
	l := p.pre
	p.pre = nil
	p.mu.Unlock()
	if l == nil {
		return nil
	}
	for k, v := range env {
		// The load line is JSON: bytes it cannot carry, and variables
		// exec would refuse, take the path that handles them today.
		if startupVar(k) || !utf8.ValidString(k+v) || strings.ContainsAny(k+v, "\x00") || k == "" || strings.Contains(k, "=") {
			go l.kill()
			return nil
		}
	}
	return l
}

// startupVar reports whether an interpreter (node, python, the C library)
// reads the variable only when it starts, so that setting it in a running
// launcher would not have the effect it has today.
func startupVar(k string) bool {
	switch k {
	case "LANG", "LANGUAGE", "TZ", "HOME", "GLIBC_TUNABLES":
		return true
	}
	for _, prefix := range []string{"NODE_", "UV_", "PYTHON", "LC_", "LD_", "MALLOC_", "OPENSSL_", "SSL_CERT_"} {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// loadMessage is the line that tells a prestarted launcher its action.
type loadMessage struct {
	Dir  string   `json:"dir"`
	Main string   `json:"main"`
	Kind string   `json:"kind"`
	Env  []string `json:"env"` // os/exec form, in the order exec would use
}

// load sends a prestarted launcher its action and waits for the ack.
// delivered is false when the launcher was already gone before it got the
// line: not the action's fault, so the caller starts a launcher instead.
func (l *loop) load(ctx context.Context, msg loadMessage) (delivered bool, err error) {
	line, err := json.Marshal(msg)
	if err != nil {
		go l.kill()
		return false, nil
	}
	select {
	case <-l.gone:
		return false, nil
	default:
	}
	ackc := make(chan reply, 1)
	l.wmu.Lock()
	l.qmu.Lock()
	if l.dead {
		l.qmu.Unlock()
		l.wmu.Unlock()
		go l.kill()
		return false, nil
	}
	l.queue = append(l.queue, ackc)
	l.qmu.Unlock()
	_, err = l.stdin.Write(append(line, '\n'))
	l.wmu.Unlock()
	if err != nil {
		// No reader on stdin: the launcher died before it could read.
		go l.kill()
		return false, nil
	}
	return true, l.awaitAck(ctx, ackc)
}
