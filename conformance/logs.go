package conformance

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// collector drains a sandbox's LogStream into memory, so that a case can
// look at the lines written since a mark.
type collector struct {
	mu      sync.Mutex
	lines   []sdk.LogLine
	changed chan struct{} // closed and replaced on every new line
	stop    context.CancelFunc
	done    chan struct{}
}

func collect(ls sdk.LogStream) *collector {
	ctx, stop := context.WithCancel(context.Background())
	c := &collector{changed: make(chan struct{}), stop: stop, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			l, err := ls.Next(ctx)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.lines = append(c.lines, l)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) close() {
	c.stop()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second): // a stream that ignores ctx must not hang the suite
	}
}

// mark returns a position: later calls see only lines after it.
func (c *collector) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// wait returns the lines since m once ok(lines) holds or d has passed.
func (c *collector) wait(m int, d time.Duration, ok func([]sdk.LogLine) bool) []sdk.LogLine {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		lines := append([]sdk.LogLine(nil), c.lines[m:]...)
		changed := c.changed
		c.mu.Unlock()
		if ok(lines) {
			return lines
		}
		select {
		case <-changed:
		case <-deadline.C:
			return lines
		}
	}
}

func sentinels(lines []sdk.LogLine, stream string) int {
	n := 0
	for _, l := range lines {
		if l.Stream == stream && strings.TrimSpace(l.Text) == sdk.Sentinel {
			n++
		}
	}
	return n
}

// text returns the stream's lines other than sentinels.
func text(lines []sdk.LogLine, stream string) []string {
	var out []string
	for _, l := range lines {
		if (stream == "" || l.Stream == stream) && strings.TrimSpace(l.Text) != sdk.Sentinel {
			out = append(out, l.Text)
		}
	}
	return out
}

// checkSentinels waits for n sentinels on each stream, then a grace period
// for extra ones, and wants exactly n on each.
func (b *box) checkSentinels(m, n int) error {
	if b.col == nil {
		return nil
	}
	lines := b.col.wait(m, b.x.t.logWait(), func(ls []sdk.LogLine) bool {
		return sentinels(ls, "stdout") >= n && sentinels(ls, "stderr") >= n
	})
	lines = b.col.wait(m, b.x.t.logGrace(), func(ls []sdk.LogLine) bool {
		return sentinels(ls, "stdout") > n || sentinels(ls, "stderr") > n
	})
	var errs []string
	for _, s := range []string{"stdout", "stderr"} {
		if got := sentinels(lines, s); got != n {
			errs = append(errs, fmt.Sprintf("%d sentinels on %s, want %d", got, s, n))
		}
	}
	if errs != nil {
		return fmt.Errorf("%s", strings.Join(errs, ", "))
	}
	return nil
}

// streams returns the non-sentinel lines of each stream since m, waiting
// until each stream has at least n sentinels (or the log wait passes).
func (b *box) streams(m, n int) (stdout, stderr []string) {
	lines := b.col.wait(m, b.x.t.logWait(), func(ls []sdk.LogLine) bool {
		return sentinels(ls, "stdout") >= n && sentinels(ls, "stderr") >= n
	})
	return text(lines, "stdout"), text(lines, "stderr")
}

// checkEmpty wants no text besides sentinels on either stream since m.
func (b *box) checkEmpty(m, n int) error {
	if b.col == nil {
		return nil
	}
	out, errs := b.streams(m, n)
	if len(out) > 0 || len(errs) > 0 {
		return fmt.Errorf("streams not empty: stdout %q, stderr %q", out, errs)
	}
	return nil
}

// checkContains wants a line containing s on stream ("" for either) since m.
func (b *box) checkContains(m int, stream, s string, fold bool) error {
	if b.col == nil {
		return nil
	}
	has := func(ls []sdk.LogLine) bool {
		for _, l := range text(ls, stream) {
			if strings.Contains(l, s) || (fold && strings.Contains(strings.ToLower(l), strings.ToLower(s))) {
				return true
			}
		}
		return false
	}
	lines := b.col.wait(m, b.x.t.logWait(), has)
	if !has(lines) {
		where := stream
		if where == "" {
			where = "the logs"
		}
		return fmt.Errorf("%s lack %q (got %q)", where, s, text(lines, stream))
	}
	return nil
}
