// Package controller is Stoke's REST API: OpenWhisk's v1 paths, bodies,
// status codes and Basic auth (reference/openwhisk.md §4), so the wsk CLI
// and openwhisk-client-go work unchanged.
//
// The invoke path is the critical path: one cached identity read, one
// cached action read, a parameter merge, one bus send and, for a blocking
// call, one wait for the completion that Run delivers. It writes nothing
// to the store; invokers write activation records off the path.
package controller
