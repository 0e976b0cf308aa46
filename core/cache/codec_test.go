package cache

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stokehq/stoke/core/entity"
)

// TestCodecCoversEntities fails when an entity the codec encodes gains or
// loses a field: update appendAction/readAction (or the identity pair)
// and then this count.
func TestCodecCoversEntities(t *testing.T) {
	for _, c := range []struct {
		v      any
		fields int
	}{
		{entity.Identity{}, 4},
		{entity.Action{}, 10},
		{entity.Exec{}, 6},
		{entity.ActionLimits{}, 4},
		{entity.KeyValue{}, 3},
	} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.fields {
			t.Errorf("%T has %d fields, the codec knows %d", c.v, n, c.fields)
		}
	}
}

func fullAction() *entity.Action {
	return &entity.Action{
		Namespace: "ns", Name: "pkg/f", Version: "1.2.3", Publish: true,
		Exec: entity.Exec{Kind: "blackbox", Code: "code", Image: "img:1", Main: "run", Binary: true, Digest: "abc"},
		Parameters: entity.KeyValues{
			{Key: "a", Value: json.RawMessage(`{"x":[1,"é"]}`), Init: true},
			{Key: "b", Value: json.RawMessage(`null`)},
		},
		Annotations: entity.KeyValues{},
		Limits:      entity.ActionLimits{Timeout: 100, Memory: 512, Logs: 0, Concurrency: 500},
		Updated:     1_700_000_000_000,
		Rev:         -7,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, a := range []*entity.Action{fullAction(), {}} {
		got, ok := readAction(appendAction(nil, a))
		if !ok || !reflect.DeepEqual(got, a) {
			t.Errorf("action round trip:\n got %+v (%v)\nwant %+v", got, ok, a)
		}
	}
	for _, id := range []*entity.Identity{{Subject: "s", Namespace: "n", UUID: "u", Key: "k"}, {}} {
		got, ok := readIdentity(appendIdentity(nil, id))
		if !ok || *got != *id {
			t.Errorf("identity round trip: got %+v (%v), want %+v", got, ok, id)
		}
	}
}

// TestCodecMalformed: every truncation or corruption of an entry is
// rejected (a miss), never a panic or a wrong value accepted silently.
func TestCodecMalformed(t *testing.T) {
	good := appendAction(nil, fullAction())
	for i := range len(good) {
		if _, ok := readAction(good[:i]); ok {
			t.Errorf("truncated to %d bytes: accepted", i)
		}
	}
	for _, bad := range [][]byte{
		append(good[:len(good):len(good)], 0),                              // trailing byte
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // huge length
		{0x02, 'n', 's', 0x00, 0x00, 0x00, 0x7e},                           // kv count larger than the input
	} {
		if _, ok := readAction(bad); ok {
			t.Errorf("%x: accepted", bad)
		}
	}
}

func BenchmarkCodecAction(b *testing.B) {
	a := fullAction()
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make(enc, 0, 512)
		for b.Loop() {
			appendAction(buf[:0], a)
		}
	})
	p := appendAction(nil, a)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := readAction(p); !ok {
				b.Fatal("decode failed")
			}
		}
	})
	b.Run("json-decode", func(b *testing.B) {
		js, _ := json.Marshal(a)
		b.ReportAllocs()
		for b.Loop() {
			var x entity.Action
			if err := json.Unmarshal(js, &x); err != nil {
				b.Fatal(err)
			}
		}
	})
}
