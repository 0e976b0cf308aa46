// Package metrics holds Stoke's Prometheus collectors and the few calls
// the controller and the invoker make into them. The calls are cheap on
// purpose: histogram children are resolved once per (kind, backend, start)
// and kept in a copy-on-write table, the pool is read only when /metrics is
// scraped, and nothing here takes a lock the critical path also takes.
//
// Every metric is documented in docs/metrics.md.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every Stoke collector plus the Go runtime and process
// collectors. It is separate from prometheus.DefaultRegisterer so that
// importing a library that registers globally changes nothing here.
var Registry = prometheus.NewRegistry()

// Handler serves Registry in the Prometheus text (or OpenMetrics) format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// latencyBuckets span 10 µs to about 40 s: a warm wasm /run is tens of
// microseconds, a docker cold start hundreds of milliseconds.
var latencyBuckets = prometheus.ExponentialBuckets(10e-6, 4, 12)

var (
	invocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "stoke", Name: "invocations_total",
		Help: "Activations the invoker finished, by namespace, action, kind, backend, status and start type.",
	}, []string{"namespace", "action", "kind", "backend", "status", "start"})

	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "stoke", Name: "controller_invokes_total",
		Help: "Invoke requests the controller accepted (sent on the bus) or throttled (429), by namespace.",
	}, []string{"namespace", "outcome"})

	waitTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "stoke", Name: "activation_wait_seconds",
		Help:    "Time from the controller accepting an activation to the invoker starting it (bus, queue, cold create).",
		Buckets: latencyBuckets,
	}, []string{"kind", "backend", "start"})

	initTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "stoke", Name: "activation_init_seconds",
		Help:    "Duration of /init, for activations that initialised their sandbox.",
		Buckets: latencyBuckets,
	}, []string{"kind", "backend", "start"})

	runTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "stoke", Name: "activation_run_seconds",
		Help:    "Duration of /run.",
		Buckets: latencyBuckets,
	}, []string{"kind", "backend", "start"})

	busLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "stoke", Name: "bus_lag_seconds",
		Help:    "Time from the controller sending an activation to the invoker receiving it.",
		Buckets: latencyBuckets,
	})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		invocations, requests, waitTime, initTime, runTime, busLag, pools,
	)
}

// Start is how an activation got its sandbox.
type Start uint8

const (
	// None: the activation never reached a sandbox (no action, no
	// backend, no memory).
	None Start = iota
	// Cold: a sandbox was created for it.
	Cold
	// Prewarm: it took a stem cell.
	Prewarm
	// Warm: it ran on a sandbox already initialised for its action.
	Warm
	nStarts
)

var startNames = [nStarts]string{"none", "cold", "prewarm", "warm"}

func (s Start) String() string {
	if s < nStarts {
		return startNames[s]
	}
	return "unknown"
}

// statusNames are the label values of OpenWhisk's activation status codes
// 0 to 3.
var statusNames = [...]string{"success", "application_error", "developer_error", "whisk_error"}

func statusName(code int) string {
	if code >= 0 && code < len(statusNames) {
		return statusNames[code]
	}
	return "unknown"
}

// Activation is what the invoker knows when it finalises a record.
type Activation struct {
	Namespace string // the invoking namespace
	Action    string // fully qualified name
	Kind      string
	Backend   string
	Status    int // entity.Status*: 0 success ... 3 whisk error
	Start     Start
	Wait      time.Duration // controller accept to sandbox start
	Init      time.Duration // zero unless /init ran
	Run       time.Duration // zero if /run did not run
}

// Finished records one finished activation.
func Finished(a *Activation) {
	if a == nil {
		return
	}
	invocations.WithLabelValues(a.Namespace, a.Action, a.Kind, a.Backend, statusName(a.Status), a.Start.String()).Inc()
	if a.Start == None {
		return
	}
	h := histogramsFor(a.Kind, a.Backend, a.Start)
	h.wait.Observe(max(a.Wait, 0).Seconds())
	if a.Init > 0 {
		h.init.Observe(a.Init.Seconds())
	}
	if a.Run > 0 {
		h.run.Observe(a.Run.Seconds())
	}
}

// Received records the bus lag of one activation message, given the time
// the controller stamped on it.
func Received(sent time.Time) {
	if sent.IsZero() {
		return
	}
	busLag.Observe(max(time.Since(sent), 0).Seconds())
}

// Accepted counts an invoke the controller sent on the bus.
func Accepted(namespace string) { requests.WithLabelValues(namespace, "accepted").Inc() }

// Throttled counts an invoke the controller refused with 429.
func Throttled(namespace string) { requests.WithLabelValues(namespace, "throttled").Inc() }
