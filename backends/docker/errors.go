package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/stokehq/stoke/sdk"
)

// pullError is OpenWhisk's message for an image that cannot be had
// (reference/openwhisk.md §1.6), so the invoker can show it verbatim. There
// is no registry to pull from here, so a missing image fails at once.
type pullError struct{ image string }

func (e *pullError) Error() string {
	return fmt.Sprintf("Failed to pull container image '%s'.", e.image)
}

func (e *pullError) Unwrap() error { return sdk.ErrInvalid }

// execError is OpenWhisk's message for an image whose command cannot run.
type execError struct {
	image string
	cause error
}

func (e *execError) Error() string {
	return fmt.Sprintf("executable file not found in image %s: %v", e.image, e.cause)
}

func (e *execError) Unwrap() []error { return []error{sdk.ErrInvalid, e.cause} }

// wrapErr maps an Engine API error to the sdk's kinds, keeping the cause.
func wrapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%w: %w", sdk.ErrNotFound, err)
	case cerrdefs.IsInvalidArgument(err):
		return fmt.Errorf("%w: %w", sdk.ErrInvalid, err)
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err), cerrdefs.IsResourceExhausted(err):
		// The daemon is down or out of something: not the request's fault.
		return fmt.Errorf("%w: %w", sdk.ErrResources, err)
	}
	return err
}
