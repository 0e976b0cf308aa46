package controller

import (
	"encoding/json"
	"testing"

	"github.com/stokehq/stoke/core/entity"
)

// mergeParams and checkPayload run on every invoke.
func BenchmarkMergeParams(b *testing.B) {
	payload := []byte(`{"name":"bench","n":1,"nested":{"a":[1,2,3]}}`)
	cases := []struct {
		name string
		a    *entity.Action
	}{
		{"no defaults", &entity.Action{}},
		{"three defaults", &entity.Action{Parameters: entity.KeyValues{
			{Key: "greeting", Value: json.RawMessage(`"hi"`)},
			{Key: "n", Value: json.RawMessage(`0`)},
			{Key: "opts", Value: json.RawMessage(`{"x":true}`)},
		}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := mergeParams(c.a, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCheckPayload(b *testing.B) {
	payload := []byte(`{"name":"bench","n":1,"nested":{"a":[1,2,3]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := checkPayload(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewActivationID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		newActivationID()
	}
}
