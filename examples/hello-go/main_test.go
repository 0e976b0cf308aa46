package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestServe(t *testing.T) {
	tests := []struct {
		name, in, out string
		logs          int
	}{
		{"name", `{"value":{"name":"Ada"},"activation_id":"a1"}` + "\n", `{"greeting":"Hello, Ada!"}` + "\n", 1},
		{"default", `{"value":{}}` + "\n", `{"greeting":"Hello, stranger!"}` + "\n", 1},
		{"no value", `{}` + "\n", `{"greeting":"Hello, stranger!"}` + "\n", 1},
		{"no newline at EOF", `{"value":{"name":"Bo"}}`, `{"greeting":"Hello, Bo!"}` + "\n", 1},
		{"two lines", `{"value":{"name":"A"}}` + "\n\n" + `{"value":{"name":"B"}}` + "\n",
			`{"greeting":"Hello, A!"}` + "\n" + `{"greeting":"Hello, B!"}` + "\n", 2},
		{"bad envelope", "not json\n", `{"error":"invalid envelope: invalid character 'o' in literal null (expecting 'u')"}` + "\n", 0},
		{"name not a string", `{"value":{"name":3}}` + "\n", `{"error":"invalid input: value must be an object with a string name"}` + "\n", 0},
		{"value an array", `{"value":[1]}` + "\n", `{"error":"invalid input: value must be an object with a string name"}` + "\n", 0},
		{"empty input", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, logs bytes.Buffer
			if err := serve(strings.NewReader(tt.in), &out, &logs); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.out {
				t.Errorf("out = %q, want %q", out.String(), tt.out)
			}
			if n := strings.Count(logs.String(), "\n"); n != tt.logs {
				t.Errorf("%d log lines, want %d: %q", n, tt.logs, logs.String())
			}
		})
	}
}

func TestServeBigLine(t *testing.T) {
	name := strings.Repeat("x", 2<<20)
	var out, logs bytes.Buffer
	if err := serve(strings.NewReader(`{"value":{"name":"`+name+`"}}`+"\n"), &out, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), name) {
		t.Error("big name not echoed")
	}
}
