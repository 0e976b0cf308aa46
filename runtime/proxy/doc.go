// Package proxy is the action proxy that runs inside a runtime sandbox. It
// speaks OpenWhisk's action protocol (POST /init once, POST /run many times)
// and behaves like OpenWhisk's Go ActionLoop proxy in every case of the
// protocol table, so the invoker cannot tell them apart.
//
// It has two modes. ActionLoop starts one long-lived child after /init (a
// language launcher, or the action's own executable) and talks to it one
// JSON line at a time: the /run body goes in on the child's stdin, the
// result comes back on fd 3. Native runs the action's executable once per
// /run with the parameters as argv[1] and takes the last stdout line as the
// result, like OpenWhisk's docker skeleton.
//
// With Prestart, the ActionLoop launcher starts with the proxy, before any
// action is known, so that /init in a prewarmed sandbox only unpacks the
// code and tells the running interpreter what to load (prestart.go).
//
// The package uses the standard library only: it is linked into a static
// binary (cmd/stoke-proxy) that is copied into minimal images.
package proxy
