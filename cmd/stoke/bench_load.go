package main

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// benchResult is one measured path.
type benchResult struct {
	Name      string  `json:"name"`
	What      string  `json:"what"`
	N         int     `json:"n"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	MeanUs    float64 `json:"mean_us"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Errors    int     `json:"errors,omitempty"`
}

// sequential calls f n times one after the other, after a short warm-up.
func sequential(name, what string, n int, f func() error) (benchResult, error) {
	for i := 0; i < min(n/10+1, 50); i++ {
		if err := f(); err != nil {
			return benchResult{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := f(); err != nil {
			return benchResult{}, fmt.Errorf("%s: %w", name, err)
		}
		lat = append(lat, time.Since(t0))
	}
	return summarize(name, what, lat, time.Since(start)), nil
}

// closedLoop runs workers callers that each call f again as soon as the
// previous call returned, for d. f gets the caller's index and its call
// count, so that a caller can spread over many actions.
func closedLoop(name, what string, workers int, d time.Duration, f func(worker, i int) error) (benchResult, error) {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		firstErr atomic.Value
		errs     atomic.Int64
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := f(w, i); err != nil {
					// Count and go on: a load step reports its errors
					// rather than ending the run; only all-failing is fatal.
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil && len(lat) == 0 {
		return benchResult{}, fmt.Errorf("%s: %w", name, err)
	}
	r := summarize(name, what, lat, time.Since(start))
	r.Errors = int(errs.Load())
	return r, nil
}

// openLoop issues calls at a fixed rate for d whatever the latency, each
// on its own goroutine, and measures each from its scheduled time, so a
// slow server cannot hide its queueing (no coordinated omission). Calls
// beyond maxInFlight are counted as errors rather than queued.
func openLoop(name, what string, rate int, d time.Duration, maxInFlight int, f func(i int) error) benchResult {
	var (
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, int(float64(rate)*d.Seconds())+1)
		errs     atomic.Int64
		inflight atomic.Int64
		wg       sync.WaitGroup
	)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	total := int(float64(rate) * d.Seconds())
	for i := 0; i < total; i++ {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		if inflight.Load() >= int64(maxInFlight) {
			errs.Add(1)
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inflight.Add(-1)
			if err := f(i); err != nil {
				errs.Add(1)
				return
			}
			l := time.Since(at)
			mu.Lock()
			lat = append(lat, l)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := summarize(name, what, lat, time.Since(start))
	r.Errors = int(errs.Load())
	return r
}

func summarize(name, what string, lat []time.Duration, wall time.Duration) benchResult {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	r := benchResult{Name: name, What: what, N: len(lat)}
	if len(lat) > 0 {
		r.P50us = us(lat[len(lat)/2])
		r.P99us = us(lat[min(len(lat)-1, len(lat)*99/100)])
		r.MeanUs = us(sum / time.Duration(len(lat)))
	}
	if wall == 0 {
		wall = sum
	}
	if wall > 0 {
		r.OpsPerSec = float64(len(lat)) / wall.Seconds()
	}
	return r
}
