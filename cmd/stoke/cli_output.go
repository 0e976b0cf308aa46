package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/stokehq/stoke/core/entity"
)

// cliPrintJSON writes v indented; a json.RawMessage is indented as is, so
// fields the client does not model still show.
func cliPrintJSON(w io.Writer, v any) error {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		raw = buf.Bytes()
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("null")
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		// Not JSON after all: show it rather than hide it.
		out.Reset()
		out.Write(raw)
	}
	out.WriteByte('\n')
	_, err := w.Write(bytes.TrimRight(out.Bytes(), "\n"))
	if err == nil {
		_, err = io.WriteString(w, "\n")
	}
	return err
}

func (c *userCLI) actionTable(actions []entity.Action) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tKIND")
	for _, a := range actions {
		name := a.Name
		if a.Namespace != "" {
			name = a.FullName()
		}
		kind := a.Exec.Kind
		if kind == "" {
			// Lists omit exec details; OpenWhisk keeps the kind in an annotation.
			var k string
			if json.Unmarshal(a.Annotations.Get("exec"), &k) == nil {
				kind = k
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, a.Version, kind)
	}
	return tw.Flush()
}

func (c *userCLI) activationTable(acts []entity.Activation) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tSTART\tDURATION")
	for _, a := range acts {
		status := a.Response.Status
		if status == "" {
			status = entity.StatusText(a.StatusCode)
		}
		start, dur := "-", "running"
		if a.Start > 0 {
			start = time.UnixMilli(a.Start).In(c.loc).Format("2006-01-02 15:04:05")
		}
		if a.End > 0 || a.Duration > 0 {
			dur = (time.Duration(a.Duration) * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ActivationID, a.Name, status, start, dur)
	}
	return tw.Flush()
}
