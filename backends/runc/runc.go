package runc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// runcError is a failed runc command with what it printed.
type runcError struct {
	args []string
	out  string
	err  error
}

func (e *runcError) Error() string {
	msg := strings.TrimSpace(e.out)
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("runc %s: %s", strings.Join(e.args, " "), msg)
}

func (e *runcError) Unwrap() error { return e.err }

// notExist reports whether runc failed because the container is unknown.
func notExist(err error) bool {
	re, ok := err.(*runcError)
	return ok && strings.Contains(re.out, "does not exist")
}

// runc runs one runc command against our state root and returns its
// combined output.
func (b *Backend) runc(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"--root", b.cfg.StateRoot}, args...)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, b.cfg.Runc, full...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return out.Bytes(), fmt.Errorf("runc %s: %w", args[0], ctx.Err())
		}
		return out.Bytes(), &runcError{args: args, out: out.String(), err: err}
	}
	return out.Bytes(), nil
}

// container is one entry of "runc list --format json".
type container struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

func (b *Backend) list(ctx context.Context) ([]container, error) {
	out, err := b.runc(ctx, "list", "--format", "json")
	if err != nil {
		return nil, err
	}
	var cs []container // runc prints null when there are none
	if err := json.Unmarshal(out, &cs); err != nil {
		return nil, fmt.Errorf("runc list: %w", err)
	}
	return cs, nil
}
