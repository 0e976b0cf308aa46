package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stokehq/stoke/client"
)

// runActivation is "stoke activation ...".
func runActivation(ctx context.Context, args []string) error {
	return newUserCLI().activation(ctx, args)
}

func (c *userCLI) activation(ctx context.Context, args []string) error {
	with := func(f func(*userCLI, context.Context, []string) error) func(*userCLI, []string) error {
		return func(c *userCLI, args []string) error { return f(c, ctx, args) }
	}
	return c.dispatch("activation", []subcommand{
		{"list", "list activations, newest first", with((*userCLI).activationList)},
		{"get", "show an activation record", with((*userCLI).activationGet)},
		{"logs", "print an activation's logs", with((*userCLI).activationLogs)},
		{"result", "print an activation's result", with((*userCLI).activationResult)},
	}, args)
}

// cliTime reads a time bound: epoch milliseconds, as wsk takes them, or
// RFC 3339.
func cliTime(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither epoch milliseconds nor an RFC 3339 time", s)
	}
	return t.UnixMilli(), nil
}

func (c *userCLI) activationList(ctx context.Context, args []string) error {
	f := c.flags("activation list", "[NAME] [flags]")
	var q client.ActivationQuery
	var since, upto string
	f.IntVar(&q.Limit, "limit", 0, "list at most `N` activations (server default 30, max 200)")
	f.IntVar(&q.Skip, "skip", 0, "skip the first `N` activations")
	f.StringVar(&since, "since", "", "only activations started at or after `time` (epoch ms or RFC 3339)")
	f.StringVar(&upto, "upto", "", "only activations started at or before `time` (epoch ms or RFC 3339)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return f.fail("want at most one action NAME")
	}
	if len(pos) == 1 {
		q.Name = pos[0]
	}
	if q.Limit < 0 || q.Skip < 0 {
		return f.fail("--limit and --skip must not be negative")
	}
	if q.Since, err = cliTime(since); err != nil {
		return f.fail("--since: %v", err)
	}
	if q.Upto, err = cliTime(upto); err != nil {
		return f.fail("--upto: %v", err)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	acts, err := cl.Activations.List(ctx, q)
	if err != nil {
		return fmt.Errorf("list activations: %w", err)
	}
	if c.json {
		if acts == nil {
			return cliPrintJSON(c.stdout, []any{})
		}
		return cliPrintJSON(c.stdout, acts)
	}
	return c.activationTable(acts)
}

// activationID parses the one ID argument of get, logs and result.
func (c *userCLI) activationID(verb string, args []string) (string, *cliFlags, error) {
	f := c.flags("activation "+verb, "ID [flags]")
	pos, err := f.parse(args)
	if err != nil {
		return "", f, err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return "", f, f.fail("want exactly one activation ID")
	}
	return pos[0], f, nil
}

func (c *userCLI) activationGet(ctx context.Context, args []string) error {
	id, _, err := c.activationID("get", args)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := cl.Activations.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("get activation %s: %w", id, err)
	}
	if !c.json {
		fmt.Fprintf(c.stdout, "ok: got activation %s\n", id)
	}
	return cliPrintJSON(c.stdout, a)
}

func (c *userCLI) activationLogs(ctx context.Context, args []string) error {
	id, _, err := c.activationID("logs", args)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	logs, err := cl.Activations.Logs(ctx, id)
	if err != nil {
		return fmt.Errorf("get logs of activation %s: %w", id, err)
	}
	if c.json {
		if logs == nil {
			logs = []string{}
		}
		return cliPrintJSON(c.stdout, map[string][]string{"logs": logs})
	}
	for _, l := range logs {
		if _, err := fmt.Fprintln(c.stdout, l); err != nil {
			return err
		}
	}
	return nil
}

func (c *userCLI) activationResult(ctx context.Context, args []string) error {
	id, _, err := c.activationID("result", args)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	r, err := cl.Activations.Result(ctx, id)
	if err != nil {
		return fmt.Errorf("get result of activation %s: %w", id, err)
	}
	if c.json {
		return cliPrintJSON(c.stdout, r)
	}
	return cliPrintJSON(c.stdout, r.Result)
}
