package main

import (
	"reflect"
	"testing"
)

func TestConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		kinds   map[string]string
		labels  map[string]string
		wantErr bool
	}{
		{name: "defaults", env: map[string]string{}},
		{
			name:   "kinds and labels",
			env:    map[string]string{"STOKE_RUNC_KINDS": "nodejs:20=/r/node, python:3=/r/py", "STOKE_RUNC_LABELS": "host=h1"},
			kinds:  map[string]string{"nodejs:20": "/r/node", "python:3": "/r/py"},
			labels: map[string]string{"host": "h1"},
		},
		{name: "bad kinds", env: map[string]string{"STOKE_RUNC_KINDS": "nodejs:20"}, wantErr: true},
		{name: "empty value", env: map[string]string{"STOKE_RUNC_LABELS": "host="}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(cfg.RootfsDirs, tc.kinds) || !reflect.DeepEqual(cfg.Labels, tc.labels) {
				t.Errorf("cfg = %+v", cfg)
			}
		})
	}
}
