package cache

import (
	"context"

	"github.com/stokehq/stoke/core/entity"
)

// Identity serves the identity from the cache, reading the store on a miss.
func (c *Store) Identity(ctx context.Context, uuid string) (*entity.Identity, error) {
	key := identityKey(uuid)
	if p, ok := c.get(key); ok {
		if id, ok := readIdentity(p); ok {
			return id, nil
		}
	}
	return fill(c, key, func() (*entity.Identity, error) { return c.Store.Identity(ctx, uuid) }, c.encodeIdentity)
}

// PutIdentity writes through and invalidates the identity.
func (c *Store) PutIdentity(ctx context.Context, id *entity.Identity) error {
	err := c.Store.PutIdentity(ctx, id)
	if id != nil {
		c.InvalidateIdentity(id.UUID)
	}
	return err
}

// Action serves the action's metadata from the cache, reading the store
// on a miss.
func (c *Store) Action(ctx context.Context, namespace, name string) (*entity.Action, error) {
	key := actionKey(namespace, name)
	if p, ok := c.get(key); ok {
		if a, ok := readAction(p); ok {
			return a, nil
		}
	}
	return fill(c, key, func() (*entity.Action, error) { return c.Store.Action(ctx, namespace, name) }, c.encodeAction)
}

// ActionCode serves code up to Config.MaxCodeBytes from the cache.
func (c *Store) ActionCode(ctx context.Context, namespace, name string, rev int64) (string, error) {
	key := codeKey(namespace, name, rev)
	if p, ok := c.get(key); ok {
		return string(p), nil
	}
	return fill(c, key, func() (string, error) { return c.Store.ActionCode(ctx, namespace, name, rev) },
		func(code string) []byte {
			b := c.encodeCode(code)
			if b != nil {
				c.rememberCode(namespace, name, rev)
			}
			return b
		})
}

// PutAction writes through and invalidates the action. It invalidates
// even when the write fails: a conflict means the cached copy is stale.
func (c *Store) PutAction(ctx context.Context, a *entity.Action, rev int64) error {
	err := c.Store.PutAction(ctx, a, rev)
	if a != nil {
		c.Invalidate(a.Namespace, a.Name)
	}
	return err
}

// DeleteAction deletes through and invalidates the action.
func (c *Store) DeleteAction(ctx context.Context, namespace, name string) (*entity.Action, error) {
	a, err := c.Store.DeleteAction(ctx, namespace, name)
	c.Invalidate(namespace, name)
	return a, err
}

// Invalidate drops the cached metadata and code of an action. Call it when
// another process changed the action.
func (c *Store) Invalidate(namespace, name string) {
	keys := []string{actionKey(namespace, name)}
	c.mu.Lock()
	ak := actionKey(namespace, name)
	for _, rev := range c.codeRevs[ak] {
		keys = append(keys, codeKey(namespace, name, rev))
	}
	delete(c.codeRevs, ak)
	c.mu.Unlock()
	c.drop(keys...)
}

// InvalidateIdentity drops a cached identity. Call it when another process
// changed or removed it.
func (c *Store) InvalidateIdentity(uuid string) {
	c.drop(identityKey(uuid))
}

func (c *Store) rememberCode(namespace, name string, rev int64) {
	ak := actionKey(namespace, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.codeRevs[ak] {
		if r == rev {
			return
		}
	}
	c.codeRevs[ak] = append(c.codeRevs[ak], rev)
}
