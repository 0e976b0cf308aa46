package cache

import (
	"encoding/binary"
	"encoding/json"

	"github.com/stokehq/stoke/core/entity"
)

// The cached entities are encoded in a small binary form rather than
// JSON: decoding an action from JSON costs several microseconds, which
// would dominate the warm path (see BenchmarkAction). Strings and byte
// slices are a uvarint length and the bytes; integers are varints.
// TestCodecCoversEntities fails when an entity gains a field, so that the
// codec cannot silently drop it.

type enc []byte

func (e enc) str(s string) enc { return append(binary.AppendUvarint(e, uint64(len(s))), s...) }
func (e enc) raw(b []byte) enc { return append(binary.AppendUvarint(e, uint64(len(b))), b...) }
func (e enc) int(v int64) enc  { return binary.AppendVarint(e, v) }
func (e enc) bool(v bool) enc  { return e.int(map[bool]int64{false: 0, true: 1}[v]) }
func (e enc) kvs(kv entity.KeyValues) enc {
	// -1 keeps nil apart from empty, so a round trip is exact.
	if kv == nil {
		return e.int(-1)
	}
	e = e.int(int64(len(kv)))
	for _, p := range kv {
		e = e.str(p.Key).raw(p.Value).bool(p.Init)
	}
	return e
}

// dec reads what enc wrote; a malformed input sets bad and yields zeros.
type dec struct {
	b   []byte
	bad bool
}

func (d *dec) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) raw() []byte {
	l, n := binary.Uvarint(d.b)
	if n <= 0 || uint64(len(d.b)-n) < l {
		d.bad = true
		return nil
	}
	v := d.b[n : n+int(l) : n+int(l)]
	d.b = d.b[n+int(l):]
	return v
}

func (d *dec) str() string { return string(d.raw()) }
func (d *dec) bool() bool  { return d.int() != 0 }

func (d *dec) kvs() entity.KeyValues {
	n := d.int()
	if n < 0 || d.bad {
		return nil
	}
	if n > int64(len(d.b)) { // each pair takes at least a byte
		d.bad = true
		return nil
	}
	kv := make(entity.KeyValues, n)
	for i := range kv {
		kv[i].Key = d.str()
		if v := d.raw(); len(v) > 0 {
			kv[i].Value = json.RawMessage(v)
		}
		kv[i].Init = d.bool()
	}
	return kv
}

func appendIdentity(e enc, id *entity.Identity) enc {
	return e.str(id.Subject).str(id.Namespace).str(id.UUID).str(id.Key)
}

func readIdentity(p []byte) (*entity.Identity, bool) {
	d := dec{b: p}
	id := &entity.Identity{Subject: d.str(), Namespace: d.str(), UUID: d.str(), Key: d.str()}
	return id, !d.bad && len(d.b) == 0
}

func appendAction(e enc, a *entity.Action) enc {
	e = e.str(a.Namespace).str(a.Name).str(a.Version).bool(a.Publish)
	x := a.Exec
	e = e.str(x.Kind).str(x.Code).str(x.Image).str(x.Main).bool(x.Binary).str(x.Digest)
	e = e.kvs(a.Parameters).kvs(a.Annotations)
	l := a.Limits
	e = e.int(int64(l.Timeout)).int(int64(l.Memory)).int(int64(l.Logs)).int(int64(l.Concurrency))
	return e.int(a.Updated).int(a.Rev)
}

func readAction(p []byte) (*entity.Action, bool) {
	d := dec{b: p}
	a := &entity.Action{Namespace: d.str(), Name: d.str(), Version: d.str(), Publish: d.bool()}
	a.Exec = entity.Exec{Kind: d.str(), Code: d.str(), Image: d.str(), Main: d.str(), Binary: d.bool(), Digest: d.str()}
	a.Parameters = d.kvs()
	a.Annotations = d.kvs()
	a.Limits = entity.ActionLimits{Timeout: int(d.int()), Memory: int(d.int()), Logs: int(d.int()), Concurrency: int(d.int())}
	a.Updated = d.int()
	a.Rev = d.int()
	return a, !d.bad && len(d.b) == 0
}
