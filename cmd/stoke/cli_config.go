package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stokehq/stoke/core/entity"
)

const (
	cliDefaultHost = "http://127.0.0.1:3233"
	cliDefaultAuth = entity.GuestUUID + ":" + entity.GuestKey
)

// settings resolves the API host and auth key: flag, then environment,
// then config file, then the standalone defaults, each key on its own.
func (c *userCLI) settings() (host, auth string, err error) {
	host, auth = c.apihost, c.auth
	if host == "" {
		host = c.getenv("STOKE_APIHOST")
	}
	if auth == "" {
		auth = c.getenv("STOKE_AUTH")
	}
	if host == "" || auth == "" {
		props, err := c.configFile()
		if err != nil {
			return "", "", err
		}
		if host == "" {
			host = props["APIHOST"]
		}
		if auth == "" {
			auth = props["AUTH"]
		}
	}
	if host == "" {
		host = c.defaultHost
	}
	if auth == "" {
		auth = cliDefaultAuth
	}
	return host, auth, nil
}

// configFile reads the first of $STOKE_CONFIG, ~/.stoke/config and
// ~/.wskprops, so that an OpenWhisk user's settings carry over. A file
// named by $STOKE_CONFIG must exist; the others may not.
func (c *userCLI) configFile() (map[string]string, error) {
	if p := c.getenv("STOKE_CONFIG"); p != "" {
		return cliReadProps(p)
	}
	home, err := c.home()
	if err != nil || home == "" {
		return nil, nil // no home, no config: the defaults apply
	}
	for _, p := range []string{filepath.Join(home, ".stoke", "config"), filepath.Join(home, ".wskprops")} {
		props, err := cliReadProps(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return props, err
	}
	return nil, nil
}

// cliReadProps parses a .wskprops-style file: KEY=VALUE lines, blank
// lines and # comments.
func cliReadProps(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config %s:%d: want KEY=VALUE, got %q", path, n, line)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return props, nil
}
