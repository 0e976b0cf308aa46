package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// inspect returns the id of image, or an error if docker does not have it.
func inspect(ctx context.Context, docker, image string) (string, error) {
	out, err := exec.CommandContext(ctx, docker, "image", "inspect", "-f", "{{.Id}}", image).Output()
	if err != nil {
		return "", fmt.Errorf("inspect %s: %w", image, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// importImage streams rootfs as a tar into `docker import`, with the
// image config set through --change, and tags the result :latest too.
func importImage(ctx context.Context, docker, rootfs, image string, cfg Config) (string, error) {
	changes := []string{`CMD ["/bin/proxy"]`, "EXPOSE 8080", "WORKDIR " + cfg.WorkDir}
	for _, e := range cfg.Env {
		k, v, _ := strings.Cut(e, "=")
		changes = append(changes, fmt.Sprintf("ENV %s=%q", k, v))
	}
	keys := make([]string, 0, len(cfg.Labels))
	for k := range cfg.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		changes = append(changes, fmt.Sprintf("LABEL %s=%s", k, cfg.Labels[k]))
	}
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	args = append(args, "-", image)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, rootfs)) }()
	cmd := exec.CommandContext(ctx, docker, args...)
	cmd.Stdin = pr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	pr.Close()
	if err != nil {
		return "", fmt.Errorf("docker import: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	id := strings.TrimSpace(stdout.String())
	latest := image[:strings.LastIndexByte(image, ':')] + ":latest"
	if out, err := exec.CommandContext(ctx, docker, "tag", id, latest).CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker tag: %w: %s", err, out)
	}
	return id, nil
}

// writeTar writes dir as a tar with root ownership and sorted entries.
func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "root", "root"
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
