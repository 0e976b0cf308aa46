package images

import (
	"path/filepath"
	"strings"
)

// Spec says what goes into one runtime image.
type Spec struct {
	Name string // image is stoke/runtime-<Name>
	// Bins are host executables copied with their ldd dependencies. Strip
	// drops debug info from a copy (node carries ~100 MB of it).
	Bins []Bin
	// Trees are host directories copied whole, minus Skip.
	Trees []Tree
	// Links are symlinks to create: rootfs path -> target.
	Links map[string]string
	// Launcher is a file of this repository, installed at /stoke/<base>.
	Launcher string
	// Env is the image's environment (proxy configuration).
	Env []string
}

// Bin is a host executable.
type Bin struct {
	Host, Dest string
	Strip      bool
}

// Tree is a host directory.
type Tree struct {
	Host string
	Skip func(rel string, dir bool) bool
	// LddGlob names files in the tree whose libraries must come too
	// (Python's C extension modules).
	LddGlob string
}

// Specs returns the built-in runtimes: nodejs20, python3 and native.
func Specs() []Spec {
	return []Spec{
		{
			Name:     "nodejs20",
			Bins:     []Bin{{Host: "/usr/bin/node", Dest: "/usr/bin/node", Strip: true}},
			Launcher: "runtime/nodejs/launcher.js",
			Env: []string{
				"STOKE_LAUNCHER=/usr/bin/node /stoke/launcher.js",
				"STOKE_SOURCE_FILE=index.js",
				"OW_WAIT_FOR_ACK=1",
				// Start the interpreter with the container, not at /init.
				"STOKE_PRESTART=1",
			},
		},
		{
			Name:  "python3",
			Bins:  []Bin{{Host: "/usr/bin/python3.11", Dest: "/usr/bin/python3.11"}},
			Links: map[string]string{"/usr/bin/python3": "python3.11", "/usr/bin/python": "python3.11"},
			Trees: []Tree{{
				Host:    "/usr/lib/python3.11",
				Skip:    skipPython,
				LddGlob: "*.so",
			}},
			Launcher: "runtime/python/launcher.py",
			Env: []string{
				"STOKE_LAUNCHER=/usr/bin/python3 /stoke/launcher.py",
				"STOKE_SOURCE_FILE=__main__.py",
				"OW_WAIT_FOR_ACK=1",
				// Start the interpreter with the container, not at /init.
				"STOKE_PRESTART=1",
			},
		},
		{
			Name: "native",
			Bins: []Bin{{Host: "/bin/sh", Dest: "/usr/bin/sh"}},
			Env:  []string{"STOKE_PROXY_MODE=native"},
		},
	}
}

// skipPython drops test suites, GUI and build-time parts of the stdlib,
// and optimised bytecode. Plain .pyc files are kept: without them every
// cold start recompiles the modules it imports (and the rootfs may be read
// only).
func skipPython(rel string, dir bool) bool {
	base := filepath.Base(rel)
	if dir {
		switch base {
		case "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip",
			"lib2to3", "dist-packages", "site-packages":
			return true
		}
		return strings.HasPrefix(rel, "config-3")
	}
	return strings.Contains(base, ".opt-") && strings.HasSuffix(base, ".pyc")
}
