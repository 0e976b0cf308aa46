package main

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// hub fans a sandbox's stdout and stderr lines out to its log streams. A
// stream sees the lines written after it was opened, and io.EOF once the
// process has exited and both pipes are drained.
type hub struct {
	mu     sync.Mutex
	subs   map[*stream]bool
	closed bool
}

// startLogs attaches pipes to cmd's stdout and stderr; cmd.Wait returns
// once both are read to the end.
func startLogs(cmd *exec.Cmd) (*hub, error) {
	h := &hub{subs: map[*stream]bool{}}
	for _, name := range []string{"stdout", "stderr"} {
		pipe := cmd.StdoutPipe
		if name == "stderr" {
			pipe = cmd.StderrPipe
		}
		r, err := pipe()
		if err != nil {
			return nil, err
		}
		go h.read(name, r)
	}
	return h, nil
}

func (h *hub) read(name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // results and logs can be long lines
	for sc.Scan() {
		h.send(sdk.LogLine{Time: time.Now(), Stream: name, Text: sc.Text()})
	}
	io.Copy(io.Discard, r) // a line over 16 MiB: drop the rest, keep the child unblocked
}

func (h *hub) send(l sdk.LogLine) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.push(l)
	}
}

func (h *hub) subscribe() *stream {
	s := &stream{h: h, wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.eof = true
	} else {
		h.subs[s] = true
	}
	return s
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		s.end()
	}
	h.subs = nil
}

// stream is one reader's queue; it never blocks the child's pipes.
type stream struct {
	h     *hub
	mu    sync.Mutex
	lines []sdk.LogLine
	eof   bool
	wake  chan struct{}
}

func (s *stream) push(l sdk.LogLine) {
	s.mu.Lock()
	s.lines = append(s.lines, l)
	s.mu.Unlock()
	s.poke()
}

func (s *stream) end() {
	s.mu.Lock()
	s.eof = true
	s.mu.Unlock()
	s.poke()
}

func (s *stream) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stream) Next(ctx context.Context) (sdk.LogLine, error) {
	for {
		s.mu.Lock()
		if len(s.lines) > 0 {
			l := s.lines[0]
			s.lines = s.lines[1:]
			s.mu.Unlock()
			return l, nil
		}
		eof := s.eof
		s.mu.Unlock()
		if eof {
			return sdk.LogLine{}, io.EOF
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return sdk.LogLine{}, ctx.Err()
		}
	}
}

func (s *stream) Close() error {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
	s.end()
	return nil
}
