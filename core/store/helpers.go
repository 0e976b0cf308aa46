package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/stokehq/stoke/core/entity"
)

// Digest is the hex SHA-256 of code: the value of Exec.Digest, the same
// in every store so that caches keyed by it agree.
func Digest(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// Page validates skip and limit and applies the list defaults every store
// shares: a limit of 0 means entity.DefaultListLimit, and no page is
// larger than entity.MaxListLimit (OpenWhisk's query-limit).
func Page(skip, limit int) (int, int, error) {
	if skip < 0 {
		return 0, 0, fmt.Errorf("negative skip %d", skip)
	}
	if limit < 0 {
		return 0, 0, fmt.Errorf("negative limit %d", limit)
	}
	if limit == 0 {
		limit = entity.DefaultListLimit
	}
	return skip, min(limit, entity.MaxListLimit), nil
}
