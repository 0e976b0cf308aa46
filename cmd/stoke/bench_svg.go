package main

import (
	"fmt"
	"html"
	"io"
	"math"
)

// writeSVG draws a horizontal bar chart of p50 and p99 per path on a log
// scale: the paths span microseconds (wasm) to hundreds of milliseconds
// (a container cold start), which a linear axis would flatten.
func writeSVG(w io.Writer, rs []benchResult) error {
	const (
		labelW = 270
		plotW  = 560
		rowH   = 22
		top    = 40
		bottom = 40
	)
	var rows []benchResult
	lo, hi := math.Inf(1), 0.0
	for _, r := range rs {
		if r.N == 0 || r.P50us <= 0 {
			continue
		}
		rows = append(rows, r)
		lo = math.Min(lo, r.P50us)
		hi = math.Max(hi, math.Max(r.P99us, r.P50us))
	}
	if len(rows) == 0 {
		lo, hi = 1, 10
	}
	dLo := math.Floor(math.Log10(lo))
	dHi := math.Ceil(math.Log10(hi))
	if dHi <= dLo {
		dHi = dLo + 1
	}
	x := func(us float64) float64 {
		return labelW + (math.Log10(math.Max(us, math.Pow(10, dLo)))-dLo)/(dHi-dLo)*plotW
	}
	height := top + len(rows)*rowH + bottom
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", labelW+plotW+30, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="20" font-size="14" font-weight="bold">stoke bench: latency per path (µs, log scale)</text>`+"\n", 10)
	p(`<rect x="%d" y="8" width="12" height="10" fill="#4878d0"/><text x="%d" y="18">p50</text>`+"\n", labelW+plotW-110, labelW+plotW-94)
	p(`<rect x="%d" y="8" width="12" height="10" fill="#ee854a"/><text x="%d" y="18">p99</text>`+"\n", labelW+plotW-60, labelW+plotW-44)
	for d := dLo; d <= dHi; d++ {
		xx := x(math.Pow(10, d))
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", xx, top-4, xx, height-bottom+4)
		p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", xx, height-bottom+18, tick(math.Pow(10, d)))
	}
	for i, r := range rows {
		y := top + i*rowH
		p(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-6, y+14, html.EscapeString(r.Name))
		p(`<rect x="%d" y="%d" width="%.1f" height="8" fill="#4878d0"><title>p50 %.1f µs</title></rect>`+"\n", labelW, y+3, x(r.P50us)-labelW, r.P50us)
		p(`<rect x="%d" y="%d" width="%.1f" height="8" fill="#ee854a"><title>p99 %.1f µs</title></rect>`+"\n", labelW, y+11, x(r.P99us)-labelW, r.P99us)
	}
	_, err := fmt.Fprintln(w, "</svg>")
	return err
}

func tick(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%gs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%gms", us/1e3)
	}
	return fmt.Sprintf("%gµs", us)
}
