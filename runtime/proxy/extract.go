package proxy

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxUnpacked bounds what an archive may expand to, so a zip bomb fails
// init instead of filling the disk.
const maxUnpacked = 1 << 30

var errDecode = errors.New("cannot decode the request")

// unpack writes an action's code into dir. Plain source and single-file
// binaries are saved as name; zip and tar.gz archives are extracted.
// It reports whether the code was an archive.
func unpack(dir, name, code string, binary bool) (archive bool, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create action dir: %w", err)
	}
	data := []byte(code)
	if binary {
		clean := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, code)
		data, err = base64.StdEncoding.DecodeString(clean)
		if err != nil {
			return false, fmt.Errorf("%w: %v", errDecode, err)
		}
		switch {
		case bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")):
			return true, unzip(dir, data)
		case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
			return true, untgz(dir, data)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
		return false, fmt.Errorf("save action: %w", err)
	}
	return false, nil
}

// target resolves an archive entry inside dir, refusing paths that escape
// it (zip slip).
func target(dir, name string) (string, error) {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
		return "", fmt.Errorf("archive entry %q escapes the action directory", name)
	}
	return p, nil
}

func unzip(dir string, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("uncompressing zip: %w", err)
	}
	var total int64
	for _, f := range zr.File {
		p, err := target(dir, f.Name)
		if err != nil {
			return err
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		case mode&os.ModeSymlink != 0:
			continue // links could point outside the action: skip them
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("uncompressing %s: %w", f.Name, err)
		}
		n, err := writeFile(p, rc, mode.Perm()|0o600, maxUnpacked-total)
		rc.Close()
		if err != nil {
			return fmt.Errorf("uncompressing %s: %w", f.Name, err)
		}
		total += n
	}
	return nil
}

func untgz(dir string, data []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("uncompressing tar.gz: %w", err)
	}
	tr := tar.NewReader(gz)
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("uncompressing tar.gz: %w", err)
		}
		p, err := target(dir, h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			n, err := writeFile(p, tr, os.FileMode(h.Mode).Perm()|0o600, maxUnpacked-total)
			if err != nil {
				return fmt.Errorf("uncompressing %s: %w", h.Name, err)
			}
			total += n
		}
	}
}

func writeFile(p string, r io.Reader, mode os.FileMode, budget int64) (int64, error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, budget+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > budget {
		err = fmt.Errorf("archive expands beyond %d bytes", int64(maxUnpacked))
	}
	return n, err
}

// executable reports whether p looks runnable by the kernel: an ELF binary
// or a #! script. It also sets the execute bits, which zips often lose.
func executable(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("\x7fELF")) && !bytes.HasPrefix(head, []byte("#!")) {
		return false
	}
	return os.Chmod(p, 0o755) == nil
}
