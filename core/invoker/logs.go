package invoker

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// logReader reads the one log stream of a sandbox and cuts it into frames:
// a frame ends once the sentinel has been seen on both stdout and stderr.
// The n-th activation that finishes in the sandbox takes the n-th frame
// (reserve hands out the numbers in finishing order), so the sandbox can
// serve its next activation while the last one's logs are still arriving.
type logReader struct {
	mu        sync.Mutex
	cur       []sdk.LogLine
	sentinels int
	completed int // frames completed so far
	frames    map[int][]sdk.LogLine
	gone      map[int]bool // frames whose taker gave up waiting
	next      int          // next reservation
	done      bool
	changed   chan struct{}
}

func newLogReader() *logReader {
	return &logReader{frames: make(map[int][]sdk.LogLine), gone: make(map[int]bool), changed: make(chan struct{})}
}

func (r *logReader) read(ctx context.Context, s sdk.LogStream) {
	defer s.Close()
	for {
		l, err := s.Next(ctx)
		if err != nil {
			r.mu.Lock()
			r.done = true
			r.notify()
			r.mu.Unlock()
			return
		}
		r.mu.Lock()
		if l.Text == sdk.Sentinel {
			r.sentinels++
			if r.sentinels == 2 {
				if !r.gone[r.completed] {
					r.frames[r.completed] = r.cur
				}
				delete(r.gone, r.completed)
				r.completed++
				r.cur, r.sentinels = nil, 0
				r.notify()
			}
		} else {
			r.cur = append(r.cur, l)
		}
		r.mu.Unlock()
	}
}

func (r *logReader) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *logReader) reserve() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	r.next++
	return n
}

// take returns frame seq, waiting up to wait for it. If it does not come
// (no sentinels, a crashed action, the stream ended), it returns what has
// been written since the last complete frame and complete=false.
func (r *logReader) take(seq int, wait time.Duration) (lines []sdk.LogLine, complete bool) {
	var timer <-chan time.Time
	for {
		r.mu.Lock()
		if l, ok := r.frames[seq]; ok {
			delete(r.frames, seq)
			r.mu.Unlock()
			return l, true
		}
		if r.done || wait <= 0 {
			l := r.cur
			if seq == r.completed {
				r.cur, r.sentinels = nil, 0
				r.completed++ // this frame is over as far as anyone can tell
			} else if seq > r.completed {
				r.gone[seq] = true
				l = nil
			}
			r.mu.Unlock()
			return l, false
		}
		ch := r.changed
		r.mu.Unlock()
		if timer == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-ch:
		case <-timer:
			wait = 0
		}
	}
}

// formatLogs renders lines as OpenWhisk does ("<RFC3339 nanos> stdout:
// text") within limit bytes; over it, the rest is replaced by the §1.7
// notice.
func formatLogs(lines []sdk.LogLine, limit int, extra string) []string {
	out := make([]string, 0, len(lines)+1)
	size := 0
	var buf []byte
	for _, l := range lines {
		buf = appendLine(buf[:0], l.Time, l.Stream, l.Text)
		if size+len(l.Text) > limit {
			out = append(out, string(appendLine(buf[:0], l.Time, "stderr",
				"Logs were truncated because the total bytes size exceeds the limit of "+strconv.Itoa(limit)+" bytes.")))
			return out
		}
		size += len(l.Text)
		out = append(out, string(buf))
	}
	if extra != "" {
		out = append(out, string(appendLine(buf[:0], time.Now(), "stderr", extra)))
	}
	return out
}

func appendLine(b []byte, t time.Time, stream, text string) []byte {
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z")
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ": "...)
	return append(b, text...)
}
