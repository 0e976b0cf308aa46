package cache

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/stokehq/stoke/core/entity"
)

// An entry is an 8-byte expiry (unix nanoseconds) and a payload: the
// identity or action in the form of codec.go, or the code bytes.
//
// bigcache's own LifeWindow only takes effect at its periodic clean-up,
// so the expiry is checked on every read.
const header = 8

// Keys: a one-letter kind and NUL separators, which no name contains.
func identityKey(uuid string) string          { return "i\x00" + uuid }
func actionKey(namespace, name string) string { return "a\x00" + namespace + "\x00" + name }
func codeKey(namespace, name string, rev int64) string {
	return "c\x00" + namespace + "\x00" + name + "\x00" + strconv.FormatInt(rev, 10)
}

func (c *Store) newEntry() enc {
	b := make([]byte, header, 256)
	binary.LittleEndian.PutUint64(b, uint64(time.Now().Add(c.cfg.LifeWindow).UnixNano()))
	return b
}

// get returns the payload of a live entry.
func (c *Store) get(key string) ([]byte, bool) {
	b, err := c.bc.Get(key)
	if err != nil || len(b) < header {
		return nil, false
	}
	if time.Now().UnixNano() > int64(binary.LittleEndian.Uint64(b)) {
		return nil, false
	}
	return b[header:], true
}

func (c *Store) encodeIdentity(id *entity.Identity) []byte {
	return appendIdentity(c.newEntry(), id)
}

func (c *Store) encodeAction(a *entity.Action) []byte {
	return appendAction(c.newEntry(), a)
}

func (c *Store) encodeCode(code string) []byte {
	if len(code) > c.cfg.MaxCodeBytes {
		return nil
	}
	b := make([]byte, header, header+len(code))
	binary.LittleEndian.PutUint64(b, uint64(time.Now().Add(c.cfg.LifeWindow).UnixNano()))
	return append(b, code...)
}
