// Command stoke is Stoke in one binary: the all-in-one server, the parts
// of a cluster, and the user CLI.
//
//	stoke serve                  controller and invoker in one process
//	stoke controller|invoker     the parts of a cluster, over Kafka and PostgreSQL
//	stoke kafka                  the embedded Kafka-protocol broker as a process
//	stoke action ...             create, update, get, list, delete, invoke actions
//	stoke activation ...         list activations, get one, its logs or result
//	stoke bench                  measure the invocation paths side by side
//	stoke conformance ...        run the runtime or backend conformance suite
//
// Run "stoke help" or "stoke COMMAND -h" for details.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run controller and invoker in one process (embedded store, in-memory bus)", runServe},
		{"controller", "run a cluster controller (REST API, load balancer) over Kafka", runController},
		{"invoker", "run a cluster invoker over Kafka", runInvoker},
		{"kafka", "run the embedded Kafka-protocol broker (development and tests)", runKafka},
		{"action", "manage and invoke actions", runAction},
		{"activation", "list and read activation records", runActivation},
		{"bench", "measure the invocation paths side by side", runBench},
		{"conformance", "check a runtime or a backend plugin against the conformance suites", runConformance},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintf(os.Stderr, "error: %v\n", err)
				return 1
			}
		}
	}
	fmt.Fprintf(os.Stderr, "stoke: unknown command %q\n\n", args[0])
	usage()
	return 2
}

// errUsage reports a usage error already printed to the user.
var errUsage = errors.New("usage")

func usage() {
	fmt.Fprintln(os.Stderr, "usage: stoke COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", c.name, c.summary)
	}
}
