// Package conformance holds Stoke's shared conformance suites, as a library
// in the shape of testing/fstest and testing/slogtest:
//
//   - the runtime suite checks one sandbox's action protocol (/init once,
//     /run many, log sentinels, and for kind "wasm" the "ActionLoop over
//     WASI stdio" ABI) against OpenWhisk's own runtime tests;
//   - the backend suite checks an sdk.Backend's lifecycle (info, create,
//     destroy, list, pause, limits, log framing) and then runs the runtime
//     suite through the backend's own sandboxes.
//
// Every case has an ID (C01.., W01.., B01..), a level (MUST or SHOULD), a
// one-line description and an exact expectation; docs/conformance.md lists
// them. RunRuntime and RunBackend run the cases as subtests of a go test;
// Check and CheckBackend run them without a *testing.T and return a Report
// that prints human lines or JUnit XML, for the `stoke conformance` command.
// A case that cannot run says why (fixture missing, capability not
// declared); none is skipped silently.
//
// The package depends on sdk and the standard library only: backends and
// runtimes are passed in by the caller.
package conformance
