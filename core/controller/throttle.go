package controller

import (
	"net/http"
	"sync"
	"time"
)

// throttle enforces OpenWhisk's two per-namespace limits: invocations per
// minute (a fixed one-minute window, as OpenWhisk's RateThrottler) and
// activations in flight (taken at send, released at completion).
type throttle struct {
	perMinute  int // 0: off
	concurrent int // < 0: off

	mu sync.Mutex
	ns map[string]*nsCount
}

type nsCount struct {
	minute   int64 // unix minute of the window
	inMinute int
	inFlight int
}

func newThrottle(perMinute, concurrent int) *throttle {
	return &throttle{perMinute: perMinute, concurrent: concurrent, ns: make(map[string]*nsCount)}
}

// acquire takes a slot for one activation or says why not (429).
func (t *throttle) acquire(namespace string, now time.Time) *apiError {
	minute := now.Unix() / 60
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.ns[namespace]
	if n == nil {
		n = &nsCount{}
		t.ns[namespace] = n
	}
	if n.minute != minute {
		n.minute, n.inMinute = minute, 0
	}
	if t.perMinute > 0 && n.inMinute >= t.perMinute {
		return errorf(http.StatusTooManyRequests, msgTooManyPerMinute, n.inMinute+1, t.perMinute)
	}
	if t.concurrent >= 0 && n.inFlight >= t.concurrent {
		return errorf(http.StatusTooManyRequests, msgTooManyInFlight, n.inFlight+1, t.concurrent)
	}
	n.inMinute++
	n.inFlight++
	return nil
}

func (t *throttle) release(namespace string) {
	t.mu.Lock()
	if n := t.ns[namespace]; n != nil && n.inFlight > 0 {
		n.inFlight--
	}
	t.mu.Unlock()
}

// inFlight reports the activations in flight for namespace (tests).
func (t *throttle) inFlight(namespace string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := t.ns[namespace]; n != nil {
		return n.inFlight
	}
	return 0
}
