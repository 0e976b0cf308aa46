// Command build-images assembles Stoke's runtime root filesystems from this
// machine's files and imports them into docker as
// stoke/runtime-<name>:<hash> and :latest. See package images.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stokehq/stoke/runtime/images"
)

func main() {
	var opt images.Options
	names := flag.String("only", "", "comma-separated runtimes to build (default all: nodejs20,python3,native)")
	flag.StringVar(&opt.Root, "out", "bin/runtimes", "output root: <out>/<name>/rootfs, image-id, image.json")
	flag.StringVar(&opt.Proxy, "proxy", "bin/stoke-proxy", "static stoke-proxy binary (CGO_ENABLED=0)")
	flag.StringVar(&opt.Repo, "repo", ".", "repository root (for the launchers)")
	flag.BoolVar(&opt.NoDocker, "no-docker", false, "assemble the rootfs directories only")
	flag.Parse()
	if *names != "" {
		opt.Names = strings.Split(*names, ",")
	}
	opt.Log = os.Stdout
	start := time.Now()
	rs, err := images.Build(context.Background(), opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "build-images:", err)
		os.Exit(1)
	}
	built := 0
	for _, r := range rs {
		if !r.Cached {
			built++
		}
	}
	fmt.Printf("%d runtime images, %d rebuilt, in %s\n", len(rs), built, time.Since(start).Round(time.Millisecond))
}
