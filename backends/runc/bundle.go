package runc

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The OCI runtime spec types this backend writes: only the fields it sets,
// so as not to depend on runtime-spec for a dozen structs.
type ociSpec struct {
	Version  string     `json:"ociVersion"`
	Process  ociProcess `json:"process"`
	Root     ociRoot    `json:"root"`
	Hostname string     `json:"hostname"`
	Mounts   []ociMount `json:"mounts"`
	Linux    ociLinux   `json:"linux"`
}

type ociProcess struct {
	User            ociUser    `json:"user"`
	Args            []string   `json:"args"`
	Env             []string   `json:"env"`
	Cwd             string     `json:"cwd"`
	Capabilities    ociCaps    `json:"capabilities"`
	Rlimits         []ociLimit `json:"rlimits"`
	NoNewPrivileges bool       `json:"noNewPrivileges"`
}

type ociUser struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

type ociCaps struct {
	Bounding  []string `json:"bounding"`
	Effective []string `json:"effective"`
	Permitted []string `json:"permitted"`
}

type ociLimit struct {
	Type string `json:"type"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

type ociRoot struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly"`
}

type ociMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type,omitempty"`
	Source      string   `json:"source,omitempty"`
	Options     []string `json:"options,omitempty"`
}

type ociLinux struct {
	Resources     ociResources   `json:"resources"`
	CgroupsPath   string         `json:"cgroupsPath"`
	Namespaces    []ociNamespace `json:"namespaces"`
	MaskedPaths   []string       `json:"maskedPaths"`
	ReadonlyPaths []string       `json:"readonlyPaths"`
}

type ociResources struct {
	Devices []ociDevice `json:"devices"`
	Memory  *ociMemory  `json:"memory,omitempty"`
	Pids    *ociPids    `json:"pids,omitempty"`
}

type ociDevice struct {
	Allow  bool   `json:"allow"`
	Access string `json:"access"`
}

type ociMemory struct {
	Limit int64  `json:"limit"`
	Swap  *int64 `json:"swap,omitempty"`
}

type ociPids struct {
	Limit int64 `json:"limit"`
}

type ociNamespace struct {
	Type string `json:"type"`
}

// capabilities is the sandbox's whole capability set: what a runtime
// needs to manage its own files and children as root inside the
// container. Docker's default set minus NET_RAW (as OpenWhisk drops it),
// MKNOD, AUDIT_WRITE, SETFCAP, SETPCAP and SYS_CHROOT.
var capabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_NET_BIND_SERVICE",
	"CAP_SETGID",
	"CAP_SETUID",
}

// Paths inside the sandbox.
const (
	socketDir   = "/run/stoke"
	socketName  = "proxy.sock"
	defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// bundle is the host side of one sandbox's files.
type bundle struct {
	dir string // <BundleDir>/<id>
}

func (b bundle) config() string  { return filepath.Join(b.dir, "config.json") }
func (b bundle) record() string  { return filepath.Join(b.dir, "stoke.json") }
func (b bundle) pidFile() string { return filepath.Join(b.dir, "pid") }
func (b bundle) runDir() string  { return filepath.Join(b.dir, "run") }
func (b bundle) socket() string  { return filepath.Join(b.dir, "run", socketName) }

// ociConfig builds the container's config.json.
func (b *Backend) ociConfig(id, rootfs string, memoryMB int, env map[string]string, bd bundle) *ociSpec {
	res := ociResources{Devices: []ociDevice{{Allow: false, Access: "rwm"}}}
	if b.cg.memory {
		limit := int64(memoryMB) << 20
		// Swap in OCI is memory+swap: equal to the limit means no swap,
		// so the limit is a real limit and an OOM kill comes fast.
		res.Memory = &ociMemory{Limit: limit, Swap: &limit}
	}
	if b.cg.pids {
		res.Pids = &ociPids{Limit: b.cfg.PidsLimit}
	}
	img := readImageConfig(rootfs)
	args, cwd := b.cfg.Process, "/"
	if len(img.Cmd) > 0 && !b.cfg.customProcess {
		args = img.Cmd
	}
	// The rootfs is read-only and shared: the working directory, where
	// the proxy unpacks the action, gets a tmpfs of its own.
	var workMount []ociMount
	if img.WorkDir != "" && img.WorkDir != "/" {
		cwd = img.WorkDir
		if img.WorkDir != "/tmp" {
			workMount = []ociMount{{Destination: img.WorkDir, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}}}
		}
	}
	spec := &ociSpec{
		Version: "1.0.2",
		Process: ociProcess{
			Args:            args,
			Env:             b.environ(img.Env, env),
			Cwd:             cwd,
			Capabilities:    ociCaps{Bounding: capabilities, Effective: capabilities, Permitted: capabilities},
			Rlimits:         []ociLimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     ociRoot{Path: rootfs, Readonly: true},
		Hostname: "sandbox",
		Mounts: []ociMount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			// The sandbox's own cgroups, read-only, so that the proxy can
			// tell an OOM kill of its child from another death.
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			// tmpfs pages count against the memory cgroup, so /tmp needs
			// no size of its own.
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
			{Destination: socketDir, Type: "bind", Source: bd.runDir(), Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}},
		},
		Linux: ociLinux{
			Resources: res,
			// Relative: runc places it under its own cgroup, that is under
			// the host process's, so the host's limits cover its sandboxes.
			CgroupsPath: "stoke-runc/" + id,
			Namespaces: []ociNamespace{
				{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
				"/sys/firmware",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
	spec.Mounts = append(spec.Mounts, workMount...)
	return spec
}

// environ is PATH, the image's env, Config.Env, Spec.Env (sorted, for a
// stable config) and the socket variable, later entries overriding
// earlier ones.
func (b *Backend) environ(image []string, env map[string]string) []string {
	out := []string{defaultPath}
	out = append(out, image...) // a PATH here overrides the default
	out = append(out, b.cfg.Env...)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return append(out, "STOKE_PROXY_SOCKET="+socketDir+"/"+socketName)
}

// writeBundle creates the bundle directory with its config and record.
func (b *Backend) writeBundle(spec *ociSpec, rec *record, bd bundle) error {
	if err := os.MkdirAll(bd.runDir(), 0o755); err != nil {
		return err
	}
	if err := writeJSON(bd.config(), spec); err != nil {
		return err
	}
	return writeJSON(bd.record(), rec)
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// checkEnv rejects variables that cannot be put in an environment.
func checkEnv(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			return fmt.Errorf("bad environment variable %q", k)
		}
	}
	return nil
}
