// Package proto holds the gRPC contract between a Stoke host and a backend
// plugin (backend.proto) and the Go code generated from it. Backend authors
// in Go use sdk.Serve and never touch it; authors in other languages
// generate their own stubs from backend.proto.
package proto

//go:generate env PATH=$HOME/go/bin:$PATH protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative backend.proto
