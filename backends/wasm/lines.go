package wasm

import (
	"bytes"
	"fmt"
	"sync"
)

// lineWriter splits a guest's output stream into lines (without "\n") and
// hands each to emit. A line longer than max is cut at max bytes and emitted
// with cut=true once it ends. Writes never fail, so a guest is not disturbed
// by the host's bounds.
type lineWriter struct {
	max  int
	emit func(line []byte, cut bool)
	buf  []byte
	cut  bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := w.max - len(w.buf); len(chunk) > room {
			w.buf = append(w.buf, chunk[:max(room, 0)]...)
			w.cut = true
		} else {
			w.buf = append(w.buf, chunk...)
		}
		if i < 0 {
			break
		}
		w.flush()
		p = p[i+1:]
	}
	return n, nil
}

// flush emits a pending partial line, if any.
func (w *lineWriter) flush() {
	if len(w.buf) == 0 && !w.cut {
		// An empty line carries nothing for results or logs.
		return
	}
	line := bytes.TrimSuffix(w.buf, []byte("\r"))
	w.emit(line, w.cut)
	w.buf, w.cut = w.buf[:0], false
}

// sink is a sandbox's log output for the activation in progress: it counts
// log bytes against the per-activation bound and frames activations with
// sentinels. The guest (on its goroutine) and the run (on the caller's)
// both write to it, hence the lock.
type sink struct {
	hub   *logHub
	limit int

	mu        sync.Mutex
	used      int
	truncated bool
}

func (s *sink) line(stream string, text []byte) {
	s.mu.Lock()
	if s.used+len(text) > s.limit {
		s.truncated = true
		s.mu.Unlock()
		return
	}
	s.used += len(text)
	s.mu.Unlock()
	s.hub.publish(stream, string(text))
}

// end closes the activation: a truncation notice if needed, then the
// sentinels, and a fresh budget for the next activation.
func (s *sink) end() {
	s.mu.Lock()
	truncated := s.truncated
	s.used, s.truncated = 0, false
	s.mu.Unlock()
	if truncated {
		s.hub.publish("stderr", fmt.Sprintf("Logs were truncated because the total bytes size exceeds the limit of %d bytes.", s.limit))
	}
	s.hub.sentinel()
}

// stderrWriter returns a writer that logs each stderr line.
func (s *sink) writer(stream string) *lineWriter {
	return &lineWriter{max: s.limit, emit: func(l []byte, _ bool) { s.line(stream, l) }}
}
