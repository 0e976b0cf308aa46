package proxy

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// msgOOM is what OpenWhisk reports when the sandbox ran out of memory.
const msgOOM = "The action exhausted its memory and was aborted."

// oomFiles hold the kernel's count of OOM kills in the sandbox's memory
// cgroup, as a container sees it: cgroup v1, then v2.
var oomFiles = []struct{ path, key string }{
	{"/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"},
	{"/sys/fs/cgroup/memory.events", "oom_kill"},
}

// oomKills returns the sandbox's OOM kill count, or -1 if it cannot be
// read (no cgroup filesystem mounted, or not in a container).
func oomKills() int {
	for _, f := range oomFiles {
		fh, err := os.Open(f.path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), " ")
			if ok && k == f.key {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				fh.Close()
				if err != nil {
					return -1
				}
				return n
			}
		}
		fh.Close()
	}
	return -1
}
