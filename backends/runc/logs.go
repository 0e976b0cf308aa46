package runc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// OOMMessage is the last stderr line of a sandbox the kernel killed for
// exceeding its memory limit; it is OpenWhisk's message for that case.
const OOMMessage = "The action exhausted its memory and was aborted."

// Bounds on log reading: a longer line is split, and a stream whose
// reader falls this far behind loses lines (with a notice) rather than
// growing without end.
const (
	maxLine   = 64 << 10
	maxQueued = 16 << 10
)

// hub reads a sandbox's stdout and stderr pipes and fans the lines out to
// the open streams. Lines written while no stream is open are dropped:
// Logs streams from the moment of the call.
type hub struct {
	mu     sync.Mutex
	subs   map[*stream]struct{}
	closed bool
	done   chan struct{} // closed once both pipes are at EOF and drained
	last   []string      // the last few stderr lines, for create errors
}

// startLogs reads both pipes until EOF. At EOF it asks oom whether the
// kernel killed the sandbox, and if so adds OOMMessage on stderr.
func startLogs(stdout, stderr *os.File, oom func() bool) *hub {
	h := &hub{subs: make(map[*stream]struct{}), done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go h.read(&wg, stdout, "stdout")
	go h.read(&wg, stderr, "stderr")
	go func() {
		wg.Wait()
		if oom() {
			h.publish(sdk.LogLine{Time: time.Now().UTC(), Stream: "stderr", Text: OOMMessage})
		}
		h.close()
	}()
	return h
}

func (h *hub) read(wg *sync.WaitGroup, f *os.File, name string) {
	defer wg.Done()
	defer f.Close()
	r := bufio.NewReaderSize(f, maxLine)
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			h.publish(sdk.LogLine{Time: time.Now().UTC(), Stream: name, Text: string(line)})
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (h *hub) publish(l sdk.LogLine) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l.Stream == "stderr" {
		if len(h.last) == 5 {
			h.last = h.last[1:]
		}
		h.last = append(h.last, l.Text)
	}
	for s := range h.subs {
		s.push(l)
	}
}

// close ends every stream with io.EOF once its queue is read.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		s.end()
	}
	h.subs = nil
	close(h.done)
}

func (h *hub) tail() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.last...)
}

func (h *hub) open(ctx context.Context) *stream {
	s := &stream{h: h, wake: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.closed {
		s.eof = true
	} else {
		h.subs[s] = struct{}{}
	}
	h.mu.Unlock()
	s.stop = context.AfterFunc(ctx, func() { s.cancel(ctx.Err()) })
	return s
}

// stream is one Logs call's view of a hub. Its queue is unbounded up to
// maxQueued so that the pipe readers never wait for a slow consumer.
type stream struct {
	h    *hub
	wake chan struct{}
	stop func() bool

	mu      sync.Mutex
	q       []sdk.LogLine
	dropped int
	eof     bool
	err     error // set when closed or its ctx ended
}

var _ sdk.LogStream = (*stream)(nil)

func (s *stream) push(l sdk.LogLine) {
	s.mu.Lock()
	if len(s.q) >= maxQueued {
		s.dropped++
	} else {
		if s.dropped > 0 {
			s.q = append(s.q, sdk.LogLine{Time: l.Time, Stream: "stderr",
				Text: fmt.Sprintf("%d log lines dropped: the reader fell behind", s.dropped)})
			s.dropped = 0
		}
		s.q = append(s.q, l)
	}
	s.mu.Unlock()
	s.signal()
}

func (s *stream) end() {
	s.mu.Lock()
	s.eof = true
	s.mu.Unlock()
	s.signal()
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stream) cancel(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.h.mu.Lock()
	if s.h.subs != nil {
		delete(s.h.subs, s)
	}
	s.h.mu.Unlock()
	s.signal()
}

// Next returns the next line, io.EOF once the sandbox is gone and every
// line is read.
func (s *stream) Next(ctx context.Context) (sdk.LogLine, error) {
	for {
		s.mu.Lock()
		switch {
		case s.err != nil:
			err := s.err
			s.mu.Unlock()
			return sdk.LogLine{}, err
		case len(s.q) > 0:
			l := s.q[0]
			s.q[0] = sdk.LogLine{}
			s.q = s.q[1:]
			s.mu.Unlock()
			return l, nil
		case s.eof:
			s.mu.Unlock()
			return sdk.LogLine{}, io.EOF
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
			return sdk.LogLine{}, ctx.Err()
		}
	}
}

// Close stops the stream; Next then fails.
func (s *stream) Close() error {
	s.stop()
	s.cancel(errors.New("log stream closed"))
	return nil
}

// Logs streams a sandbox's stdout and stderr lines from now until it is
// destroyed (io.EOF) or ctx ends.
func (b *Backend) Logs(ctx context.Context, id string) (sdk.LogStream, error) {
	b.mu.Lock()
	s := b.sandboxes[id]
	b.mu.Unlock()
	if s == nil {
		if b.made(id) {
			return nil, fmt.Errorf("logs %s: %w: destroyed", id, sdk.ErrNotFound)
		}
		if b.known(id) {
			// A sandbox of an earlier run: its pipes died with that run.
			return nil, fmt.Errorf("logs %s: %w: the sandbox was created by an earlier run", id, sdk.ErrUnsupported)
		}
		return nil, fmt.Errorf("logs %s: %w", id, sdk.ErrNotFound)
	}
	return s.logs.open(ctx), nil
}
