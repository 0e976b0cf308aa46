// Package plugins is the host side of backend plugins: it finds plugin
// binaries in a directory, launches them with go-plugin over gRPC, checks
// their API version, health-checks and restarts them, and kills them on
// close. InProcess gives a backend linked into the binary the same
// guarantees, so the invoker treats both alike.
package plugins

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Prefix starts the file name of every backend plugin binary, for example
// stoke-backend-docker.
const Prefix = "stoke-backend-"

// Discover returns the paths of the executables in dir whose names start
// with Prefix, sorted. Symbolic links are followed; directories and files
// without an execute bit are skipped.
func Discover(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("discover plugins: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), Prefix) || len(e.Name()) == len(Prefix) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		paths = append(paths, path)
	}
	sort.Strings(paths)
	return paths, nil
}
