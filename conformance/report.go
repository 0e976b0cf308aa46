package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Report is what Check and CheckBackend return.
type Report struct {
	Suite   string // "runtime wasm", "backend wasm", ...
	Results []Result
}

// Counts returns how many cases passed, failed and were skipped.
func (r *Report) Counts() (passed, failed, skipped int) {
	for _, res := range r.Results {
		switch res.Status {
		case Pass:
			passed++
		case Fail:
			failed++
		case Skip:
			skipped++
		}
	}
	return
}

// Failed returns the failed cases of the given level, or of every level
// when level is "". A CLI exits non-zero when Failed(Must) is not empty.
func (r *Report) Failed(level Level) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Fail && (level == "" || res.Level == level) {
			out = append(out, res)
		}
	}
	return out
}

// Print writes one line per case, "ID LEVEL STATUS description: why", and
// a summary line "N passed, N failed, N skipped".
func (r *Report) Print(w io.Writer) error {
	var b strings.Builder
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%-4s %-6s %-4s %s", res.ID, res.Level, res.Status, res.Desc)
		if res.Why != "" {
			fmt.Fprintf(&b, ": %s", oneLine(res.Why))
		}
		b.WriteByte('\n')
	}
	p, f, s := r.Counts()
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped\n", p, f, s)
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", " | ")
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string     `xml:"name,attr"`
	Classname string     `xml:"classname,attr"`
	Time      string     `xml:"time,attr"`
	Failure   *junitNote `xml:"failure,omitempty"`
	Skipped   *junitNote `xml:"skipped,omitempty"`
	SystemOut string     `xml:"system-out,omitempty"`
}

type junitNote struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML, one testcase per case, named
// "ID LEVEL description", for CI systems.
func (r *Report) WriteJUnit(w io.Writer) error {
	p, f, s := r.Counts()
	suite := junitSuite{Name: "stoke conformance " + r.Suite, Tests: p + f + s, Failures: f, Skipped: s}
	var total float64
	for _, res := range r.Results {
		sec := res.Duration.Seconds()
		total += sec
		c := junitCase{
			Name:      fmt.Sprintf("%s %s %s", res.ID, res.Level, res.Desc),
			Classname: "conformance." + strings.ReplaceAll(r.Suite, " ", "."),
			Time:      fmt.Sprintf("%.3f", sec),
		}
		note := &junitNote{Message: oneLine(res.Why), Text: "expected: " + res.Expect + "\n" + res.Why}
		switch res.Status {
		case Fail:
			c.Failure = note
		case Skip:
			c.Skipped = note
		default:
			c.SystemOut = res.Why
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = fmt.Sprintf("%.3f", total)
	doc := junitSuites{Tests: suite.Tests, Failures: f, Skipped: s, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
