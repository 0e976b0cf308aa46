package invoker

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/stokehq/stoke/core/entity"
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
	curBytes  int // text bytes in cur, dropped lines included
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
				r.cur, r.curBytes, r.sentinels = nil, 0, 0
				r.notify()
			}
		} else {
			// Keep what the largest log limit can show, and count the
			// rest, so a flood cannot exhaust the invoker's memory.
			if r.curBytes <= maxFrameBytes {
				r.cur = append(r.cur, l)
			}
			r.curBytes += len(l.Text)
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

// maxFrameBytes bounds the log text kept for one activation: the largest
// log limit plus room for the line that crosses it.
const maxFrameBytes = (entity.MaxLogs << 20) + 64<<10

// take returns frame seq. It waits while logs keep coming, giving up after
// idle without a new line or after total in all, and stops early once the
// frame holds more than limit bytes (the rest would be cut anyway). If the
// frame does not end (no sentinels, a crashed action, the stream ended),
// it returns what has been written since the last complete frame and
// complete=false.
func (r *logReader) take(seq int, idle, total time.Duration, limit int) (lines []sdk.LogLine, complete bool) {
	now := time.Now()
	end, quiet := now.Add(total), now.Add(idle)
	progress := -1
	for {
		r.mu.Lock()
		if l, ok := r.frames[seq]; ok {
			delete(r.frames, seq)
			r.mu.Unlock()
			return l, true
		}
		now = time.Now()
		if p := r.curBytes + r.completed<<32; p != progress {
			progress, quiet = p, now.Add(idle)
		}
		over := seq == r.completed && r.curBytes > limit
		if r.done || idle <= 0 || over || now.After(end) || now.After(quiet) {
			l := r.cur
			if seq == r.completed {
				r.cur = nil
				if r.sentinels > 0 || over || r.done {
					// This frame is over as far as anyone can tell: the
					// reader drops the rest of it up to its sentinels.
					r.gone[seq] = true
				} else {
					r.curBytes, r.completed = 0, r.completed+1
				}
			} else if seq > r.completed {
				r.gone[seq] = true
				l = nil
			}
			r.mu.Unlock()
			return l, false
		}
		ch := r.changed
		r.mu.Unlock()
		// Lines do not signal (that would cost every line a wake-up);
		// frames do. Between frames, look again every few milliseconds.
		select {
		case <-ch:
		case <-time.After(10 * time.Millisecond):
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
