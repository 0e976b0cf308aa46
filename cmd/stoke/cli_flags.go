package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/stokehq/stoke/client"
	"github.com/stokehq/stoke/core/entity"
)

// userCLI holds what every user command shares: where it writes, where
// it reads settings from, and the global flags. Tests build one with
// buffers and a fake environment.
type userCLI struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	home           func() (string, error)
	loc            *time.Location // for times in tables
	defaultHost    string

	// Global flags, on every subcommand.
	apihost, auth string
	json          bool
}

func newUserCLI() *userCLI {
	return &userCLI{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, home: os.UserHomeDir, loc: time.Local, defaultHost: cliDefaultHost}
}

// subcommand is one verb of "stoke action" or "stoke activation".
type subcommand struct {
	name, summary string
	run           func(c *userCLI, args []string) error
}

// dispatch runs the subcommand named by args[0].
func (c *userCLI) dispatch(group string, subs []subcommand, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(c.stderr, "usage: stoke %s COMMAND [flags]\n\ncommands:\n", group)
		for _, s := range subs {
			fmt.Fprintf(c.stderr, "  %-8s %s\n", s.name, s.summary)
		}
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	// Global flags may come before the subcommand: find its name.
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" {
		switch strings.TrimLeft(args[i], "-") {
		case "apihost", "auth":
			i++ // and its value
		}
		i++
	}
	if i >= len(args) {
		fmt.Fprintf(c.stderr, "stoke %s: no command (run \"stoke %s help\")\n", group, group)
		return errUsage
	}
	rest := append(append([]string{}, args[:i]...), args[i+1:]...)
	for _, s := range subs {
		if s.name == args[i] {
			return cliHint(s.run(c, rest))
		}
	}
	fmt.Fprintf(c.stderr, "stoke %s: unknown command %q (run \"stoke %s help\")\n", group, args[i], group)
	return errUsage
}

// cliHint adds what to do to an error that says no server answered.
func cliHint(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("%w\n(is the Stoke API server running there? set --apihost, $STOKE_APIHOST or APIHOST in the config file)", err)
	}
	return err
}

// cliFlags is a flag set for one subcommand, with the global flags on it.
type cliFlags struct {
	*flag.FlagSet
	c     *userCLI
	usage string
}

func (c *userCLI) flags(name, usage string) *cliFlags {
	fs := flag.NewFlagSet("stoke "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	f := &cliFlags{FlagSet: fs, c: c, usage: usage}
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: stoke %s %s\n\nflags:\n", name, f.usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.apihost, "apihost", "", "API host `URL` (else $STOKE_APIHOST, the config file, "+cliDefaultHost+")")
	fs.StringVar(&c.auth, "auth", "", "auth key `uuid:key` (else $STOKE_AUTH, the config file, the guest key)")
	fs.BoolVar(&c.json, "json", false, "print raw JSON instead of readable text")
	return f
}

// fail reports a usage error: the message, then the usage.
func (f *cliFlags) fail(format string, args ...any) error {
	fmt.Fprintf(f.c.stderr, "%s: %s\n", f.Name(), fmt.Sprintf(format, args...))
	f.Usage()
	return errUsage
}

// pairFlag is a flag that takes two arguments, KEY VALUE, as wsk's -p and
// -a do; the stdlib flag package cannot express it, so parse handles it.
type pairFlag struct{ kv *entity.KeyValues }

func (p pairFlag) String() string   { return "" }
func (p pairFlag) Set(string) error { return errors.New("needs KEY VALUE") }

// add sets key to value, which is JSON when it parses as JSON and a
// string otherwise (wsk's rule: -p n 3 is a number, -p s hi a string).
func (p pairFlag) add(key, value string) {
	*p.kv = p.kv.Set(key, cliJSONValue(value))
}

func cliJSONValue(v string) json.RawMessage {
	if json.Valid([]byte(v)) {
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(v)); err == nil {
			return b.Bytes()
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<b>" stays readable in stored parameters
	enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// pairs registers a KEY VALUE flag under each name.
func (f *cliFlags) pairs(kv *entity.KeyValues, usage string, names ...string) {
	for _, n := range names {
		f.Var(pairFlag{kv}, n, usage+" `KEY VALUE` (repeatable)")
	}
}

// parse parses args with flags and positional arguments in any order
// (flag.Parse stops at the first positional one) and returns the
// positional ones. A "--" ends the flags.
func (f *cliFlags) parse(args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimPrefix(a[1:], "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		if name == "h" || name == "help" {
			f.Usage()
			return nil, flag.ErrHelp
		}
		fl := f.Lookup(name)
		if fl == nil {
			return nil, f.fail("unknown flag %s", a)
		}
		switch v := fl.Value.(type) {
		case pairFlag:
			if hasValue || i+2 >= len(args) {
				return nil, f.fail("flag %s needs two arguments: KEY VALUE", a)
			}
			v.add(args[i+1], args[i+2])
			i += 2
			continue
		case interface{ IsBoolFlag() bool }:
			if !hasValue && v.IsBoolFlag() {
				value, hasValue = "true", true
			}
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, f.fail("flag %s needs a value", a)
			}
			i++
			value = args[i]
		}
		if err := f.Set(name, value); err != nil {
			return nil, f.fail("invalid value %q for flag %s: %v", value, a, err)
		}
	}
	return pos, nil
}

// cliParamFile reads a JSON object of parameters, keys sorted.
func cliParamFile(path string) (entity.KeyValues, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read parameter file: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, fmt.Errorf("parameter file %s: want a JSON object", path)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make(entity.KeyValues, 0, len(keys))
	for _, k := range keys {
		var b bytes.Buffer
		json.Compact(&b, m[k]) // valid: it was just decoded
		kv = append(kv, entity.KeyValue{Key: k, Value: b.Bytes()})
	}
	return kv, nil
}

// cliMerge returns base with each of over set on it, in order.
func cliMerge(base, over entity.KeyValues) entity.KeyValues {
	for _, p := range over {
		base = base.Set(p.Key, p.Value)
	}
	return base
}

// cliObject encodes parameters as one JSON object, the invoke payload.
func cliObject(kv entity.KeyValues) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range kv {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.Key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(p.Value)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

// client builds an API client from the resolved settings.
func (c *userCLI) client() (*client.Client, error) {
	host, auth, err := c.settings()
	if err != nil {
		return nil, err
	}
	return client.New(host, auth)
}
