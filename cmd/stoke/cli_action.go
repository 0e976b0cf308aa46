package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stokehq/stoke/client"
	"github.com/stokehq/stoke/core/entity"
)

// runAction is "stoke action ...".
func runAction(ctx context.Context, args []string) error {
	return newUserCLI().action(ctx, args)
}

func (c *userCLI) action(ctx context.Context, args []string) error {
	with := func(f func(*userCLI, context.Context, []string) error) func(*userCLI, []string) error {
		return func(c *userCLI, args []string) error { return f(c, ctx, args) }
	}
	return c.dispatch("action", []subcommand{
		{"create", "create an action from a file", with((*userCLI).actionCreate)},
		{"update", "update an action (its code, parameters, limits)", with((*userCLI).actionUpdate)},
		{"get", "show an action", with((*userCLI).actionGet)},
		{"list", "list actions", with((*userCLI).actionList)},
		{"delete", "delete an action", with((*userCLI).actionDelete)},
		{"invoke", "invoke an action", with((*userCLI).actionInvoke)},
	}, args)
}

func (c *userCLI) actionCreate(ctx context.Context, args []string) error {
	return c.actionPut(ctx, "create", args)
}

func (c *userCLI) actionUpdate(ctx context.Context, args []string) error {
	return c.actionPut(ctx, "update", args)
}

// actionPut is create (FILE required, never overwrites) and update (FILE
// optional: without it, only parameters, annotations and limits change).
func (c *userCLI) actionPut(ctx context.Context, verb string, args []string) error {
	f := c.flags("action "+verb, "NAME FILE [flags]")
	if verb == "update" {
		f.usage = "NAME [FILE] [flags]"
	}
	var (
		kind, main, paramFile string
		lim                   entity.ActionLimits
		params, annots        entity.KeyValues
	)
	f.StringVar(&kind, "kind", "", "runtime `kind` (default: from FILE's extension: .wasm wasm, .js nodejs:20, .py python:3)")
	f.StringVar(&main, "main", "", "entry point `name` in the code")
	f.IntVar(&lim.Memory, "memory", 0, "memory limit in `MB`")
	f.IntVar(&lim.Timeout, "timeout", 0, "time limit in `ms`")
	f.IntVar(&lim.Logs, "logsize", 0, "log size limit in `MB`")
	f.IntVar(&lim.Concurrency, "concurrency", 0, "activations at once in one sandbox")
	f.pairs(&params, "default parameter", "p", "param")
	f.StringVar(&paramFile, "P", "", "default parameters from a JSON object in `file`")
	f.pairs(&annots, "annotation", "a", "annotation")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return f.fail("missing action NAME")
	case verb == "create" && len(pos) < 2:
		return f.fail("missing FILE")
	case len(pos) > 2:
		return f.fail("too many arguments: %s", strings.Join(pos[2:], " "))
	}
	for _, l := range []struct {
		name string
		v    int
	}{{"memory", lim.Memory}, {"timeout", lim.Timeout}, {"logsize", lim.Logs}, {"concurrency", lim.Concurrency}} {
		if l.v < 0 {
			return f.fail("--%s must not be negative", l.name)
		}
	}
	a := &entity.Action{Name: pos[0], Limits: lim, Annotations: annots}
	if len(pos) == 2 {
		if a.Exec, err = cliReadExec(pos[1], kind, main); err != nil {
			return err
		}
	} else if kind != "" || main != "" {
		return f.fail("--kind and --main need a FILE")
	}
	if paramFile != "" {
		fp, err := cliParamFile(paramFile)
		if err != nil {
			return err
		}
		params = cliMerge(fp, params)
	}
	a.Parameters = params

	cl, err := c.client()
	if err != nil {
		return err
	}
	got, err := cl.Actions.Put(ctx, a, verb == "update")
	if err != nil {
		return fmt.Errorf("%s action %s: %w", verb, a.Name, err)
	}
	if c.json {
		return cliPrintJSON(c.stdout, got)
	}
	_, err = fmt.Fprintf(c.stdout, "ok: %sd action %s\n", verb, a.Name)
	return err
}

// cliKinds maps a file extension to the kind wsk would pick for it.
var cliKinds = map[string]string{
	".wasm": "wasm",
	".js":   "nodejs:20",
	".mjs":  "nodejs:20",
	".cjs":  "nodejs:20",
	".py":   "python:3",
}

// cliReadExec reads action code from path. Binary code (a .wasm module,
// a zip, a native executable: anything that is not UTF-8 text) travels
// base64-encoded with binary set, as in OpenWhisk.
func cliReadExec(path, kind, main string) (entity.Exec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return entity.Exec{}, fmt.Errorf("read action code: %w", err)
	}
	if len(data) == 0 {
		return entity.Exec{}, fmt.Errorf("action code %s is empty", path)
	}
	if len(data) > entity.MaxCodeBytes {
		return entity.Exec{}, fmt.Errorf("action code %s is %d bytes, more than the limit of %d", path, len(data), entity.MaxCodeBytes)
	}
	ext := strings.ToLower(filepath.Ext(path))
	if kind == "" {
		if kind = cliKinds[ext]; kind == "" {
			return entity.Exec{}, fmt.Errorf("cannot tell the kind of %s from its extension: use --kind", path)
		}
	}
	e := entity.Exec{Kind: kind, Main: main}
	if ext == ".wasm" || ext == ".zip" || ext == ".jar" || !utf8.Valid(data) {
		e.Binary = true
		e.Code = base64.StdEncoding.EncodeToString(data)
	} else {
		e.Code = string(data)
	}
	return e, nil
}

func (c *userCLI) actionGet(ctx context.Context, args []string) error {
	f := c.flags("action get", "NAME [flags]")
	code := f.Bool("code", true, "include the code")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return f.fail("want exactly one action NAME")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := cl.Actions.Get(ctx, pos[0], *code)
	if err != nil {
		return fmt.Errorf("get action %s: %w", pos[0], err)
	}
	if !c.json {
		fmt.Fprintf(c.stdout, "ok: got action %s\n", pos[0])
	}
	return cliPrintJSON(c.stdout, a)
}

func (c *userCLI) actionList(ctx context.Context, args []string) error {
	f := c.flags("action list", "[flags]")
	limit := f.Int("limit", 0, "list at most `N` actions (server default 30, max 200)")
	skip := f.Int("skip", 0, "skip the first `N` actions")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return f.fail("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if *limit < 0 || *skip < 0 {
		return f.fail("--limit and --skip must not be negative")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	as, err := cl.Actions.List(ctx, *skip, *limit)
	if err != nil {
		return fmt.Errorf("list actions: %w", err)
	}
	if c.json {
		if as == nil {
			as = []entity.Action{}
		}
		return cliPrintJSON(c.stdout, as)
	}
	return c.actionTable(as)
}

func (c *userCLI) actionDelete(ctx context.Context, args []string) error {
	f := c.flags("action delete", "NAME [flags]")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return f.fail("want exactly one action NAME")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.Actions.Delete(ctx, pos[0]); err != nil {
		return fmt.Errorf("delete action %s: %w", pos[0], err)
	}
	if c.json {
		return cliPrintJSON(c.stdout, map[string]string{"deleted": pos[0]})
	}
	_, err = fmt.Fprintf(c.stdout, "ok: deleted action %s\n", pos[0])
	return err
}

func (c *userCLI) actionInvoke(ctx context.Context, args []string) error {
	f := c.flags("action invoke", "NAME [flags]")
	var params entity.KeyValues
	var paramFile string
	f.pairs(&params, "parameter", "p", "param")
	f.StringVar(&paramFile, "P", "", "parameters from a JSON object in `file`")
	blocking := f.Bool("blocking", false, "wait for the result")
	f.BoolVar(blocking, "b", false, "short for --blocking")
	result := f.Bool("result", false, "print only the result (implies --blocking)")
	f.BoolVar(result, "r", false, "short for --result")
	timeout := f.Int("timeout", 0, "wait at most `ms` for a blocking call (server default 60000)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return f.fail("want exactly one action NAME")
	}
	if *timeout < 0 {
		return f.fail("--timeout must not be negative")
	}
	if paramFile != "" {
		fp, err := cliParamFile(paramFile)
		if err != nil {
			return err
		}
		params = cliMerge(fp, params)
	}
	name := pos[0]
	cl, err := c.client()
	if err != nil {
		return err
	}
	opts := client.InvokeOptions{Blocking: *blocking || *result, Result: *result, Timeout: time.Duration(*timeout) * time.Millisecond}
	r, err := cl.Actions.Invoke(ctx, name, cliObject(params), opts)
	if err != nil {
		return fmt.Errorf("invoke action %s: %w", name, err)
	}
	if !r.Done() {
		if c.json {
			return cliPrintJSON(c.stdout, map[string]string{"activationId": r.ActivationID})
		}
		if opts.Blocking {
			_, err = fmt.Fprintf(c.stdout, "ok: invoked %s, but the request has not yet finished, with id %s\n", name, r.ActivationID)
		} else {
			_, err = fmt.Fprintf(c.stdout, "ok: invoked %s with id %s\n", name, r.ActivationID)
		}
		return err
	}
	switch {
	case c.json && r.Activation != nil:
		err = cliPrintJSON(c.stdout, r.Activation)
	case c.json || opts.Result:
		err = cliPrintJSON(c.stdout, r.Result)
	default:
		// As wsk does: a blocking call prints the whole record.
		fmt.Fprintf(c.stdout, "ok: invoked %s with id %s\n", name, r.ActivationID)
		if r.Activation != nil {
			err = cliPrintJSON(c.stdout, r.Activation)
		} else {
			err = cliPrintJSON(c.stdout, r.Result)
		}
	}
	if err != nil {
		return err
	}
	if !r.Success() {
		return fmt.Errorf("action %s failed: %s (activation %s)", name, cliFailure(r), r.ActivationID)
	}
	return nil
}

// cliFailure names what went wrong in a finished activation.
func cliFailure(r *client.InvokeResult) string {
	if r.Activation != nil && r.Activation.Response.Status != "" {
		return r.Activation.Response.Status
	}
	if r.Status == 500 {
		return entity.StatusText(entity.StatusWhiskError)
	}
	return "application or developer error"
}
