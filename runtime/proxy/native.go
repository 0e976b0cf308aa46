package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
)

// maxArg is the longest argv[1] the kernel takes (MAX_ARG_STRLEN - 1);
// bigger parameters go in on stdin, as in OpenWhisk's docker skeleton.
const maxArg = 131071

// native runs <dir>/exec once per activation: parameters as argv[1], the
// last stdout line is the result, earlier lines are logs.
type native struct {
	dir string
	env map[string]string // proxy env + init env
	p   *Proxy
}

func (n *native) run(ctx context.Context, fields map[string]json.RawMessage) (int, []byte) {
	value := fields["value"]
	if len(value) == 0 {
		value = json.RawMessage("{}")
	}
	env := make(map[string]string, len(n.env)+8)
	for k, v := range n.env {
		env[k] = v
	}
	for k, v := range runEnv(fields) {
		env[k] = v
	}
	cmd := exec.CommandContext(ctx, filepath.Join(n.dir, "exec"))
	if len(value) > maxArg {
		cmd.Stdin = bytes.NewReader(value)
	} else {
		cmd.Args = append(cmd.Args, string(value))
	}
	cmd.Dir = n.dir
	cmd.Env = environ(env)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = n.p.stderr.file
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		n.p.stderr.line(err.Error())
		return 502, errorBody("The action failed to generate or locate a binary. See logs for details.")
	}
	text := strings.TrimRight(out.String(), "\n")
	logs, last := "", text
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		logs, last = text[:i+1], text[i+1:]
	}
	if logs != "" {
		n.p.stdout.write([]byte(logs))
	}
	if !isObjectOrArray([]byte(last)) {
		if last != "" {
			n.p.stdout.line(last)
		}
		return 502, errorBody("The action did not return a dictionary or array.")
	}
	return 200, []byte(strings.TrimSpace(last))
}
