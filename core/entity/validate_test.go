package entity

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"hello", true},
		{"a", true},
		{"_", true},
		{"hello world", true},
		{"my-action_1.2@x", true},
		{"a.", true},
		{"", false},
		{"-a", false},
		{".a", false},
		{"a ", false},
		{" a", false},
		{"a/b", false},
		{"héllo", false},
		{"a\n", false},
		{strings.Repeat("a", MaxNameLength), true},
		{strings.Repeat("a", MaxNameLength+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName("name", tt.name)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
}

func TestValidateLimits(t *testing.T) {
	tests := []struct {
		name string
		edit func(*ActionLimits)
		msg  string
	}{
		{"defaults", func(*ActionLimits) {}, ""},
		{"bounds", func(l *ActionLimits) { *l = ActionLimits{MinTimeout, MinMemory, MinLogs, MinConcurrency} }, ""},
		{"upper bounds", func(l *ActionLimits) { *l = ActionLimits{MaxTimeout, MaxMemory, MaxLogs, MaxConcurrency} }, ""},
		{"timeout low", func(l *ActionLimits) { l.Timeout = MinTimeout - 1 }, "duration 99 ms below"},
		{"timeout high", func(l *ActionLimits) { l.Timeout = MaxTimeout + 1 }, "exceeds allowed threshold of 300000 ms"},
		{"memory low", func(l *ActionLimits) { l.Memory = 0 }, "memory 0 MB below"},
		{"memory high", func(l *ActionLimits) { l.Memory = 513 }, "memory 513 MB exceeds"},
		{"logs negative", func(l *ActionLimits) { l.Logs = -1 }, "log size -1 MB below"},
		{"logs high", func(l *ActionLimits) { l.Logs = 11 }, "log size 11 MB exceeds"},
		{"concurrency low", func(l *ActionLimits) { l.Concurrency = 0 }, "concurrency 0 below"},
		{"concurrency high", func(l *ActionLimits) { l.Concurrency = 501 }, "concurrency 501 exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := DefaultLimits()
			tt.edit(&l)
			err := ValidateLimits(l)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want %q", err, tt.msg)
			}
		})
	}
}

func TestValidateParameters(t *testing.T) {
	big := KeyValues{{Key: "a", Value: []byte(`"` + strings.Repeat("x", MaxParameterBytes) + `"`)}}
	var se *SizeError
	if err := ValidateParameters("parameters", big); !errors.As(err, &se) || se.Field != "Parameters" {
		t.Errorf("big parameters: %v", err)
	}
	if err := ValidateParameters("parameters", KeyValues{{Key: "a", Value: []byte("1")}, {Key: "b"}}); err != nil {
		t.Errorf("valid parameters: %v", err)
	}
	if err := ValidateParameters("annotations", KeyValues{{Key: ""}}); err == nil {
		t.Error("empty key accepted")
	}
	if err := ValidateParameters("parameters", KeyValues{{Key: "a"}, {Key: "a"}}); err == nil {
		t.Error("duplicate key accepted")
	}
	if err := ValidateCode(strings.Repeat("x", MaxCodeBytes+1)); !errors.As(err, &se) || se.Field != "Code" {
		t.Errorf("big code: %v", err)
	}
}

func TestIsBinaryCode(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"UEsDBA==", true},
		{"UEsDBAo=", true},
		{"UEsDBAoA", true},
		{"  UEsDBAoA\n", true},
		{"abc+/123", true},
		{"", false},
		{"   ", false},
		{"abc", false},
		{"function main(a) { return a }", false},
		{"UE=DBA==", false},
		{"A===", false},
		{"ab-_", false},
		{"UEsD\nBAoA", false},
	}
	for _, tt := range tests {
		if got := IsBinaryCode(tt.code); got != tt.want {
			t.Errorf("IsBinaryCode(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}
