package invoker

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/stokehq/stoke/core/pool"
	"github.com/stokehq/stoke/sdk"
)

// Labels put on every sandbox, so that List finds this invoker's orphans.
const (
	labelInvoker = "stoke.invoker"
	labelAction  = "stoke.action"
)

// slot is a created sandbox: the backend's handle, a connection to its
// action protocol and its log reader.
type slot struct {
	id   pool.ID
	be   *backend
	sb   *sdk.Sandbox
	conn sdk.Conn
	logs *logReader // nil if the backend gave no log stream
	stop context.CancelFunc

	mu     sync.Mutex // orders pause, resume and destroy
	paused bool
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// create asks the backend for a sandbox, connects to it and opens its log
// stream. key is nil for a stem cell.
func (inv *Invoker) create(ctx context.Context, be *backend, id pool.ID, kind string, mem int, key *pool.Key, annotations map[string]string) (*slot, error) {
	inv.mu.Lock()
	inv.names++
	n := inv.names
	inv.mu.Unlock()
	labels := map[string]string{labelInvoker: inv.label}
	name := "stoke" + inv.label + "_" + strconv.Itoa(n) + "_prewarm_" + kind
	if key != nil {
		labels[labelAction] = key.Action
		name = "stoke" + inv.label + "_" + strconv.Itoa(n) + "_" + key.Namespace + "_" + key.Action
	}
	spec := &sdk.Spec{
		Name:        unsafeName.ReplaceAllString(name, "_"),
		Kind:        kind,
		MemoryMB:    mem,
		Labels:      labels,
		Annotations: annotations,
	}
	if rt, ok := inv.cfg.Manifest.Lookup(kind); ok {
		spec.Image = rt.Image
	}
	if inv.cfg.APIHost != "" {
		spec.Env = map[string]string{"__OW_API_HOST": inv.cfg.APIHost}
	}
	sb, err := be.b.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	s := &slot{id: id, be: be, sb: sb}
	if be.dialer != nil {
		s.conn, err = be.dialer.Dial(sb)
	} else {
		s.conn, err = sdk.Dial(sb.Endpoint)
	}
	if err != nil {
		_ = be.b.Destroy(context.WithoutCancel(ctx), sb.ID)
		return nil, fmt.Errorf("%w: %v", sdk.ErrResources, err)
	}
	// The stream lives as long as the sandbox, not as long as ctx.
	lctx, stop := context.WithCancel(context.WithoutCancel(inv.base))
	s.stop = stop
	if stream, err := be.b.Logs(lctx, sb.ID); err != nil {
		inv.log.Warn("open log stream", "sandbox", sb.ID, "err", err)
	} else {
		s.logs = newLogReader()
		go s.logs.read(lctx, stream)
	}
	return s, nil
}

func (s *slot) pause(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.be.b.Pause(ctx, s.sb.ID); err != nil {
		return fmt.Errorf("pause %s: %w", s.sb.ID, err)
	}
	s.paused = true
	return nil
}

func (s *slot) resume(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.paused {
		return nil
	}
	if err := s.be.b.Resume(ctx, s.sb.ID); err != nil {
		return fmt.Errorf("resume %s: %w", s.sb.ID, err)
	}
	s.paused = false
	return nil
}

func (s *slot) destroy(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.conn.Close()
	err := s.be.b.Destroy(ctx, s.sb.ID)
	if s.stop != nil {
		s.stop()
	}
	if err != nil {
		return fmt.Errorf("destroy %s: %w", s.sb.ID, err)
	}
	return nil
}

// destroy runs in the background (wg already incremented).
func (inv *Invoker) destroy(s *slot) {
	defer inv.wg.Done()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(inv.base), time.Minute)
	defer cancel()
	if err := s.destroy(ctx); err != nil {
		inv.log.Warn("destroy sandbox", "err", err)
	}
}
