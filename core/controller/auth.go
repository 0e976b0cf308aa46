package controller

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

// request is one authenticated API call.
type request struct {
	w  http.ResponseWriter
	r  *http.Request
	id *entity.Identity
	ns string // the namespace in the path, "_" resolved
}

func (q *request) fail(c *Controller, err error) { c.writeError(q.w, q.r, err) }

// authenticate checks HTTP Basic uuid:key against the (cached) identity
// store. The key comparison is constant-time so that timing does not leak
// how much of a guessed key is right.
func (c *Controller) authenticate(r *http.Request) (*entity.Identity, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" || pass == "" {
		return nil, errorf(http.StatusUnauthorized, msgUnauthenticated)
	}
	id, err := c.cfg.Store.Identity(r.Context(), user)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusUnauthorized, msgUnauthenticated)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(pass), []byte(id.Key)) != 1 {
		return nil, errorf(http.StatusUnauthorized, msgUnauthenticated)
	}
	return id, nil
}
