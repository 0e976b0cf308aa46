package docker

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// BenchmarkCreateDestroy measures a cold start's container part: Create
// (Engine API create + start, until the proxy accepts connections) and
// Destroy, reported as medians. Run with -benchtime=10x.
func BenchmarkCreateDestroy(b *testing.B) {
	be := newBackend(b, Config{})
	ctx := context.Background()
	for _, kind := range []string{"test:socket", "test:port"} {
		b.Run(kind, func(b *testing.B) {
			var creates, destroys []time.Duration
			for b.Loop() {
				t0 := time.Now()
				sb, err := be.Create(ctx, &sdk.Spec{Kind: kind, MemoryMB: 64})
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := be.Destroy(ctx, sb.ID); err != nil {
					b.Fatal(err)
				}
				creates = append(creates, t1.Sub(t0))
				destroys = append(destroys, time.Since(t1))
			}
			b.ReportMetric(ms(median(creates)), "create-ms")
			b.ReportMetric(ms(median(destroys)), "destroy-ms")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
