package images

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// assemble writes s's root filesystem into root. The layout is merged-/usr
// like Debian's (bin, lib, lib64 link into usr), so library paths that
// ldd prints and the ELF interpreter path both resolve.
func assemble(ctx context.Context, opt Options, s Spec, root string) error {
	for _, d := range []string{"usr/bin", "usr/lib", "usr/lib64", "dev", "proc", "sys", "etc", "action", "stoke", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o777); err != nil {
		return err
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	for link, target := range map[string]string{"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64", "sbin": "usr/bin"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			return err
		}
	}
	etc := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for p, body := range etc {
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
			return err
		}
	}
	if err := copyFile(opt.Proxy, filepath.Join(root, "usr/bin/proxy"), 0o755); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if s.Launcher != "" {
		src := filepath.Join(opt.Repo, s.Launcher)
		if err := copyFile(src, filepath.Join(root, "stoke", filepath.Base(src)), 0o644); err != nil {
			return fmt.Errorf("launcher: %w", err)
		}
	}

	var needLibs []string // files whose shared libraries must come along
	for _, b := range s.Bins {
		dst := filepath.Join(root, b.Dest)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if b.Strip {
			if err := strip(ctx, b.Host, dst); err != nil {
				return err
			}
		} else if err := copyFile(b.Host, dst, 0o755); err != nil {
			return err
		}
		needLibs = append(needLibs, b.Host)
	}
	for _, t := range s.Trees {
		err := walkTree(t, func(host, rel string, d fs.DirEntry) error {
			dst := filepath.Join(root, t.Host, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			fi, err := os.Stat(host) // follows links: a dangling one is skipped
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
			if err := copyFile(host, dst, fi.Mode().Perm()); err != nil {
				return err
			}
			// Bytecode is checked against the source's mtime.
			os.Chtimes(dst, fi.ModTime(), fi.ModTime())
			if t.LddGlob != "" {
				if ok, _ := filepath.Match(t.LddGlob, d.Name()); ok {
					needLibs = append(needLibs, host)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("copy %s: %w", t.Host, err)
		}
	}
	for link, target := range s.Links {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			return err
		}
	}
	libs, err := sharedLibs(ctx, needLibs)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return fmt.Errorf("library %s: %w", lib, err)
		}
		// Install under both the real path and the name ldd printed (which
		// may be a link on the host), so the loader finds it either way.
		for _, p := range uniq(canonical(real), canonical(lib)) {
			dst := filepath.Join(root, p)
			if _, err := os.Lstat(dst); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := copyFile(real, dst, 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// canonical maps /lib, /lib64 and /bin paths to their /usr home, matching
// the rootfs links.
func canonical(p string) string {
	for _, d := range []string{"/lib/", "/lib64/", "/bin/"} {
		if strings.HasPrefix(p, d) {
			return "/usr" + p
		}
	}
	return p
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// sharedLibs runs ldd once over all files and returns the absolute library
// paths it resolved (the ELF interpreter included).
func sharedLibs(ctx context.Context, files []string) ([]string, error) {
	if len(files) == 0 {
		return nil, nil
	}
	cmd := exec.CommandContext(ctx, "ldd", files...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	cmd.Run() // ldd fails for static files among many; the output still lists the rest
	seen := map[string]bool{}
	var libs []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd: %s", line)
		}
		var p string
		if _, after, ok := strings.Cut(line, "=> "); ok {
			p = strings.Fields(after)[0]
		} else if strings.HasPrefix(line, "/") && strings.Contains(line, " (0x") {
			p = strings.Fields(line)[0]
		}
		if strings.HasPrefix(p, "/") && !seen[p] {
			seen[p] = true
			libs = append(libs, p)
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd found no libraries for %s", files[0])
	}
	return libs, nil
}

func strip(ctx context.Context, src, dst string) error {
	if err := exec.CommandContext(ctx, "strip", "--strip-all", "-o", dst, src).Run(); err != nil {
		// No strip: a bigger image still works.
		return copyFile(src, dst, 0o755)
	}
	return os.Chmod(dst, 0o755)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
