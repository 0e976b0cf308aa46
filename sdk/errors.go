package sdk

import "errors"

// Errors a backend returns, wrapped with context. The plugin transport
// carries them across gRPC as status codes and rebuilds them on the host
// side, so errors.Is works the same in-process and over a plugin.
var (
	// ErrNotFound: no sandbox with that id.
	ErrNotFound = errors.New("sandbox not found")
	// ErrUnsupported: the backend does not offer this operation or kind.
	ErrUnsupported = errors.New("not supported by this backend")
	// ErrResources: the backend could not provide the resources asked for
	// (image missing, memory, processes). The activation is a whisk error.
	ErrResources = errors.New("resources unavailable")
	// ErrInvalid: the request itself is wrong (bad spec, bad code).
	ErrInvalid = errors.New("invalid request")
)
