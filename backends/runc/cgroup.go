package runc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroups says which controllers runc can use here. runc picks v2 only in
// unified mode (cgroup2 at /sys/fs/cgroup); in hybrid mode, as on a host
// with cgroup2 at /sys/fs/cgroup/unified, it uses the v1 hierarchies.
type cgroups struct {
	v2      bool
	memory  bool // memory limit and OOM kill
	pids    bool // pids limit
	freezer bool // runc pause/resume
	// mounts maps a v1 controller ("memory") or "" for v2 to where its
	// hierarchy is mounted and which cgroup path is that mount's root.
	mounts map[string]mount
}

type mount struct{ dir, root string }

func detectCgroups() (cgroups, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return cgroups{}, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	cg := cgroups{mounts: make(map[string]mount)}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+3 >= len(fields) {
			continue
		}
		root, dir, fstype := fields[3], fields[4], fields[sep+1]
		switch fstype {
		case "cgroup2":
			if dir == "/sys/fs/cgroup" {
				cg.v2 = true
				cg.mounts[""] = mount{dir: dir, root: root}
			}
		case "cgroup":
			for _, opt := range strings.Split(fields[sep+3], ",") {
				switch opt {
				case "memory", "pids", "freezer":
					cg.mounts[opt] = mount{dir: dir, root: root}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cgroups{}, fmt.Errorf("cgroups: %w", err)
	}
	if cg.v2 {
		ctrl, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		for _, c := range strings.Fields(string(ctrl)) {
			switch c {
			case "memory":
				cg.memory = true
			case "pids":
				cg.pids = true
			}
		}
		cg.freezer = true // cgroup.freeze is part of every v2 cgroup
		return cg, nil
	}
	_, cg.memory = cg.mounts["memory"]
	_, cg.pids = cg.mounts["pids"]
	_, cg.freezer = cg.mounts["freezer"]
	return cg, nil
}

// memoryDir finds the memory cgroup directory of a running process, so
// that the OOM counter can be read after the process is gone (runc keeps
// the cgroup until delete).
func (cg cgroups) memoryDir(pid int) (string, error) {
	if !cg.memory {
		return "", errors.New("no memory cgroup")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var m mount
		var ok bool
		if cg.v2 {
			m, ok = cg.mounts[""]
			ok = ok && parts[0] == "0"
		} else {
			m, ok = cg.mounts["memory"]
			ok = ok && hasWord(parts[1], "memory")
		}
		if !ok {
			continue
		}
		rel, err := filepath.Rel(m.root, parts[2])
		if err != nil || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("cgroup %s is outside the mount of %s", parts[2], m.dir)
		}
		return filepath.Join(m.dir, rel), nil
	}
	return "", fmt.Errorf("process %d has no memory cgroup", pid)
}

// oomKilled reports whether the kernel's OOM killer has killed a process
// in the memory cgroup dir: "oom_kill N" in memory.oom_control (v1,
// kernel 4.13+) or memory.events (v2).
func (cg cgroups) oomKilled(dir string) bool {
	if dir == "" {
		return false
	}
	file := "memory.oom_control"
	if cg.v2 {
		file = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := strings.Cut(string(line), " ")
		if ok && k == "oom_kill" {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n > 0
		}
	}
	return false
}

func hasWord(list, w string) bool {
	for _, s := range strings.Split(list, ",") {
		if s == w {
			return true
		}
	}
	return false
}
