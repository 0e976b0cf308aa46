package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/stokehq/stoke/sdk"
)

// maxLine bounds one buffered log line; a longer one is cut into pieces.
const maxLine = 1 << 20

// Logs follows the container's stdout and stderr from now on. The stream
// ends (io.EOF) when the container stops or is removed; if it died
// OOM-killed, a last stderr line OOMMessage comes first.
func (b *Backend) Logs(ctx context.Context, id string) (sdk.LogStream, error) {
	if err := b.own(ctx, id); err != nil {
		return nil, fmt.Errorf("docker: logs %s: %w", id, err)
	}
	now := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	rc, err := b.cli.ContainerLogs(ctx, id, container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     true,
		Timestamps: true,
		Since:      fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond()),
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("docker: logs %s: %w", id, wrapErr(err))
	}
	s := &logStream{lines: make(chan sdk.LogLine, 256), cancel: cancel, ctx: ctx, done: make(chan struct{})}
	go s.pump(ctx, b, id, rc)
	return s, nil
}

// logStream is fed by one goroutine reading the Engine API's multiplexed
// stream; the channel keeps stdout and stderr in the daemon's order.
type logStream struct {
	lines  chan sdk.LogLine // closed at the end
	cancel context.CancelFunc
	ctx    context.Context // the stream's; ends with Close or the caller's ctx
	done   chan struct{}
	once   sync.Once
}

func (s *logStream) Next(ctx context.Context) (sdk.LogLine, error) {
	select {
	case l, ok := <-s.lines:
		if !ok {
			return sdk.LogLine{}, io.EOF
		}
		return l, nil
	case <-ctx.Done():
		return sdk.LogLine{}, ctx.Err()
	}
}

func (s *logStream) Close() error {
	s.once.Do(func() {
		s.cancel()
		close(s.done)
	})
	return nil
}

func (s *logStream) send(l sdk.LogLine) bool {
	select {
	case s.lines <- l:
		return true
	case <-s.done:
		return false
	case <-s.ctx.Done():
		return false
	}
}

func (s *logStream) pump(ctx context.Context, b *Backend, id string, rc io.ReadCloser) {
	defer close(s.lines)
	defer rc.Close()
	out := &lineWriter{stream: "stdout", s: s}
	errw := &lineWriter{stream: "stderr", s: s}
	_, err := stdcopy.StdCopy(out, errw, rc)
	out.flush()
	errw.flush()
	if ctx.Err() != nil {
		return // closed or cancelled: nobody is reading
	}
	if err != nil {
		b.log.Debug("log stream ended", "id", id, "err", err)
	}
	if b.oomKilled(ctx, id) {
		s.send(sdk.LogLine{Time: time.Now().UTC(), Stream: "stderr", Text: OOMMessage})
	}
}

// oomKilled reports whether the container died for lack of memory. The
// follow stream can end a moment before the daemon records the exit, so a
// still-running state is checked again for up to a second.
func (b *Backend) oomKilled(ctx context.Context, id string) bool {
	for i := 0; i < 20; i++ {
		ins, err := b.cli.ContainerInspect(ctx, id)
		if err != nil || ins.State == nil {
			return false // removed: nothing left to tell
		}
		if !ins.State.Running {
			return ins.State.OOMKilled
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// lineWriter cuts one stream's frames into lines. With Timestamps, every
// line the daemon sends starts with an RFC 3339 time and a space.
type lineWriter struct {
	stream string
	s      *logStream
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > maxLine {
				i = maxLine
			} else {
				break
			}
		}
		line := string(w.buf[:i])
		if i < len(w.buf) && w.buf[i] == '\n' {
			i++
		}
		w.buf = w.buf[i:]
		if !w.s.send(parseLine(w.stream, line)) {
			return 0, io.ErrClosedPipe
		}
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.s.send(parseLine(w.stream, string(w.buf)))
		w.buf = nil
	}
}

func parseLine(stream, line string) sdk.LogLine {
	l := sdk.LogLine{Stream: stream, Text: line}
	if ts, text, ok := strings.Cut(line, " "); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			l.Time, l.Text = t.UTC(), text
			return l
		}
	}
	l.Time = time.Now().UTC()
	return l
}
