package main

import (
	"bytes"
	"encoding/xml"
	"testing"
)

// The chart is a whole SVG document whatever the number of paths.
func TestWriteSVG(t *testing.T) {
	var rs []benchResult
	for i := 0; i < 60; i++ {
		rs = append(rs, benchResult{Name: "path-with-a-long-name", N: 10, P50us: float64(10 + i*100), P99us: float64(50 + i*300)})
	}
	var buf bytes.Buffer
	if err := writeSVG(&buf, rs); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	for {
		_, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("not well-formed SVG: %v", err)
		}
	}
}
