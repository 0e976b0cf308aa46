package runc

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// imageConfig is what the runtime image builder records next to a rootfs
// (bin/runtimes/<name>/image.json): the settings `docker import` gives
// the docker image, which a bare directory cannot carry.
type imageConfig struct {
	Cmd     []string `json:"cmd"`
	Env     []string `json:"env"`
	WorkDir string   `json:"workdir"`
}

// readImageConfig reads <rootfs>/../image.json; a rootfs without one runs
// with the backend's defaults.
func readImageConfig(rootfs string) imageConfig {
	var c imageConfig
	b, err := os.ReadFile(filepath.Join(filepath.Dir(rootfs), "image.json"))
	if err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}
