package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// Proxy serves /init and /run for one action. It is an http.Handler.
type Proxy struct {
	opt            Options
	stdout, stderr *stream
	runs           chan struct{} // a one-slot semaphore unless concurrent

	mu          sync.Mutex
	initialized bool // an /init succeeded once: no other is accepted
	initing     bool
	loop        *loop   // the ActionLoop child, nil once it died
	pre         *loop   // the prestarted launcher, until an /init takes it
	native      *native // native mode action
}

// New returns a proxy. Call Close to stop the child and flush logs.
func New(opt Options) (*Proxy, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("action dir: %w", err)
	}
	opt.Dir = dir
	p := &Proxy{opt: opt}
	if p.stdout, err = newStream(opt.Stdout); err != nil {
		return nil, fmt.Errorf("stdout: %w", err)
	}
	if p.stderr, err = newStream(opt.Stderr); err != nil {
		return nil, fmt.Errorf("stderr: %w", err)
	}
	if !opt.Concurrent {
		p.runs = make(chan struct{}, 1)
	}
	if opt.canPrestart() {
		p.prestart()
	}
	return p, nil
}

// Close kills the child and flushes piped log streams.
func (p *Proxy) Close() error {
	p.mu.Lock()
	l, pre := p.loop, p.pre
	p.loop, p.pre = nil, nil
	p.mu.Unlock()
	for _, l := range []*loop{l, pre} {
		if l != nil {
			l.kill()
		}
	}
	p.stdout.close()
	p.stderr.close()
	return nil
}

// ServeHTTP routes /init and /run. Other paths get an empty 200, as in
// OpenWhisk's Go proxy.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/init":
		p.handleInit(w, r)
	case "/run":
		p.handleRun(w, r)
	}
}

// sentinels closes an activation's logs on both streams.
func (p *Proxy) sentinels() {
	p.stdout.line(Sentinel)
	p.stderr.line(Sentinel)
}

type initRequest struct {
	Value *struct {
		Name   string                     `json:"name"`
		Main   string                     `json:"main"`
		Binary bool                       `json:"binary"`
		Code   *string                    `json:"code"`
		Env    map[string]json.RawMessage `json:"env"`
	} `json:"value"`
}

func (p *Proxy) handleInit(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		p.failInit(w, http.StatusBadRequest, "Error reading request: "+err.Error())
		return
	}
	var req initRequest
	if err := json.Unmarshal(body, &req); err != nil {
		p.failInit(w, http.StatusBadRequest, "Error unmarshaling request: "+err.Error())
		return
	}

	p.mu.Lock()
	if p.initialized || p.initing {
		p.mu.Unlock()
		// A refused re-init writes no sentinel: the invoker never sends one,
		// so a log reader is not waiting for it.
		const msg = "Cannot initialize the action more than once."
		p.stderr.line(msg)
		respond(w, http.StatusForbidden, errorBody(msg))
		return
	}
	p.initing = true
	p.mu.Unlock()
	ok := false
	defer func() {
		p.mu.Lock()
		p.initing = false
		p.initialized = ok
		p.mu.Unlock()
	}()

	v := req.Value
	if v == nil || v.Code == nil || *v.Code == "" {
		p.failInit(w, http.StatusForbidden, "Missing main/no code to execute.")
		return
	}
	if v.Main == "" {
		v.Main = "main"
	}
	// A failed init leaves an empty directory, so a retry starts clean.
	clean := func() { os.RemoveAll(p.opt.Dir) }
	archive, err := unpack(p.opt.Dir, p.opt.SourceFile, *v.Code, v.Binary)
	if err != nil {
		clean()
		status := http.StatusBadGateway
		if errors.Is(err, errDecode) {
			status = http.StatusBadRequest
		}
		p.stderr.line(err.Error())
		p.failInit(w, status, err.Error())
		return
	}
	env := p.actionEnv(stringify(v.Env))
	if err := p.start(r.Context(), v.Main, archive, env); err != nil {
		clean()
		var se *startError
		if !errors.As(err, &se) {
			se = &startError{status: http.StatusBadGateway, msg: err.Error()}
		}
		if se.log != "" {
			p.stderr.line(se.log)
		}
		p.failInit(w, se.status, se.msg)
		return
	}
	ok = true
	respond(w, http.StatusOK, []byte(`{"ok":true}`))
}

// start readies the unpacked action: a native executable, or an ActionLoop
// child (the launcher, or the action's own exec).
func (p *Proxy) start(ctx context.Context, main string, archive bool, env map[string]string) error {
	execPath := filepath.Join(p.opt.Dir, "exec")
	if p.opt.Mode == ModeNative {
		if !executable(execPath) {
			return &startError{status: http.StatusBadGateway,
				msg: "The action failed to generate or locate a binary. See logs for details.",
				log: "the action has no executable file named exec (ELF or #! script)"}
		}
		full := map[string]string{}
		for _, kv := range p.opt.Env {
			if k, val, ok := cutEnv(kv); ok {
				full[k] = val
			}
		}
		for k, val := range env {
			full[k] = val
		}
		p.mu.Lock()
		p.native = &native{dir: p.opt.Dir, env: full, p: p}
		p.mu.Unlock()
		return nil
	}
	var argv []string
	if len(p.opt.Launcher) > 0 {
		kind := "file"
		if archive {
			kind = "archive"
		}
		if l := p.takePrestarted(env); l != nil {
			msg := loadMessage{Dir: p.opt.Dir, Main: main, Kind: kind, Env: environ(env)}
			if delivered, err := l.load(ctx, msg); delivered {
				if err != nil {
					return err
				}
				p.mu.Lock()
				p.loop = l
				p.mu.Unlock()
				return nil
			}
		}
		argv = append(append(argv, p.opt.Launcher...), p.opt.Dir, main, kind)
	} else {
		if !executable(execPath) {
			return &startError{status: http.StatusBadGateway, msg: "cannot start action: command exited"}
		}
		argv = []string{execPath}
	}
	l, err := startLoop(ctx, argv, p.opt.Dir, environ(env), p.stdout.file, p.stderr.file, p.opt.WaitForAck, p.opt.StartWait)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.loop = l
	p.mu.Unlock()
	return nil
}

// failInit answers a failed init. Its logs end with sentinels, so a log
// reader knows it has everything.
func (p *Proxy) failInit(w http.ResponseWriter, status int, msg string) {
	p.sentinels()
	respond(w, status, errorBody(msg))
}

func (p *Proxy) handleRun(w http.ResponseWriter, r *http.Request) {
	if p.runs != nil {
		select {
		case p.runs <- struct{}{}:
			defer func() { <-p.runs }()
		case <-r.Context().Done():
			return
		}
	}
	status, body := p.run(r)
	p.sentinels()
	respond(w, status, body)
}

func (p *Proxy) run(r *http.Request) (int, []byte) {
	body, err := readBody(nil, r)
	if err != nil {
		return http.StatusBadRequest, errorBody("Error reading request: " + err.Error())
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return http.StatusBadRequest, errorBody("Error unmarshaling request: " + err.Error())
	}
	p.mu.Lock()
	l, n := p.loop, p.native
	p.mu.Unlock()
	switch {
	case n != nil:
		return n.run(r.Context(), fields)
	case l == nil:
		return http.StatusInternalServerError, errorBody("no action defined yet")
	}
	// One line in: compacting drops the newlines JSON may have between
	// tokens (newlines inside strings are always escaped).
	var line bytes.Buffer
	json.Compact(&line, body)
	out, err := l.interact(r.Context(), line.Bytes())
	if err != nil {
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, errDead):
			status = http.StatusInternalServerError
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return http.StatusServiceUnavailable, errorBody(err.Error())
		}
		// The child is gone for good: drop it, so the next /run says so.
		p.mu.Lock()
		if p.loop == l {
			p.loop = nil
		}
		p.mu.Unlock()
		go l.kill()
		// A child killed for memory is the action's fault, and OpenWhisk
		// says so in these words. The sandbox runs one action, so any OOM
		// kill in its cgroup is this one.
		if n := oomKills(); n > 0 {
			return http.StatusBadGateway, errorBody(msgOOM)
		}
		return status, errorBody("command exited")
	}
	if !isObjectOrArray(out) {
		return http.StatusBadGateway, errorBody("The action did not return a dictionary or array.")
	}
	return http.StatusOK, bytes.TrimSpace(out)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
}

func respond(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// isObjectOrArray reports whether b is one JSON object or array.
func isObjectOrArray(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return false
	}
	return json.Valid(b)
}

func cutEnv(kv string) (string, string, bool) {
	k, v, ok := bytes.Cut([]byte(kv), []byte("="))
	return string(k), string(v), ok && len(k) > 0
}

// Dir is the absolute action directory (the child's working directory).
func (p *Proxy) Dir() string { return p.opt.Dir }
