package entity

import (
	"encoding/json"
	"time"
)

// Action is a stored function. Its JSON is OpenWhisk's.
type Action struct {
	Namespace   string       `json:"namespace"`
	Name        string       `json:"name"`
	Version     string       `json:"version"`
	Publish     bool         `json:"publish"`
	Exec        Exec         `json:"exec"`
	Parameters  KeyValues    `json:"parameters"`
	Annotations KeyValues    `json:"annotations"`
	Limits      ActionLimits `json:"limits"`
	Updated     int64        `json:"updated,omitempty"` // epoch ms

	// Rev counts the stored revisions; the store uses it to detect
	// concurrent updates and the bus carries it so that an invoker can tell
	// a stale cached copy from the current one.
	Rev int64 `json:"-"`
}

// Exec says how to run an action.
type Exec struct {
	Kind   string `json:"kind"`
	Code   string `json:"code,omitempty"`
	Image  string `json:"image,omitempty"`
	Main   string `json:"main,omitempty"`
	Binary bool   `json:"binary"`
	// Digest is the hex SHA-256 of the code as stored; it identifies the
	// code without carrying it (cache entries, compiled-module lookups).
	Digest string `json:"digest,omitempty"`
}

// ActionLimits bound one activation of an action.
type ActionLimits struct {
	Timeout     int `json:"timeout"`     // ms
	Memory      int `json:"memory"`      // MiB
	Logs        int `json:"logs"`        // MiB
	Concurrency int `json:"concurrency"` // activations at once in one sandbox
}

// TimeoutDuration is the timeout limit as a duration.
func (l ActionLimits) TimeoutDuration() time.Duration {
	return time.Duration(l.Timeout) * time.Millisecond
}

// KeyValue is one parameter or annotation.
type KeyValue struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
	// Init marks a parameter that goes to the /init env, not to /run.
	Init bool `json:"init,omitempty"`
}

// KeyValues is an ordered list of parameters or annotations. It encodes as
// [] rather than null when empty, as OpenWhisk does.
type KeyValues []KeyValue

func (kv KeyValues) MarshalJSON() ([]byte, error) {
	if kv == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]KeyValue(kv))
}

// Get returns the value of key, or nil.
func (kv KeyValues) Get(key string) json.RawMessage {
	for _, p := range kv {
		if p.Key == key {
			return p.Value
		}
	}
	return nil
}

// Set replaces or appends key.
func (kv KeyValues) Set(key string, value json.RawMessage) KeyValues {
	for i := range kv {
		if kv[i].Key == key {
			kv[i].Value = value
			return kv
		}
	}
	return append(kv, KeyValue{Key: key, Value: value})
}

// FullName is "/namespace/name".
func (a *Action) FullName() string { return "/" + a.Namespace + "/" + a.Name }
