// Package sdk is what a sandbox backend author imports: the Backend
// interface and its types, the plugin handshake and Serve, and the client
// for the OpenWhisk action protocol (/init once, /run many).
//
// A backend only manages sandbox lifecycle. It creates a sandbox for a
// runtime kind and says how to reach that sandbox's action protocol; the
// invoker then talks /init and /run to the sandbox directly, so the warm
// path never crosses the plugin boundary.
//
// The sdk depends on the standard library, go-plugin, gRPC and protobuf
// only, so that a third-party plugin stays small.
package sdk
