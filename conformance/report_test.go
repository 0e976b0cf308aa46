package conformance_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stokehq/stoke/conformance"
)

func sampleReport() *conformance.Report {
	c := func(id string, l conformance.Level) conformance.Case {
		return conformance.Case{ID: id, Level: l, Desc: "desc " + id, Expect: "expect " + id}
	}
	return &conformance.Report{Suite: "runtime wasm", Results: []conformance.Result{
		{Case: c("C01", conformance.Must), Status: conformance.Pass, Duration: time.Millisecond},
		{Case: c("C02", conformance.Must), Status: conformance.Fail, Why: "status 200\nsecond line"},
		{Case: c("C11", conformance.Should), Status: conformance.Fail, Why: "bad <xml> & \"quotes\""},
		{Case: c("C19", conformance.Should), Status: conformance.Skip, Why: "Features.Concurrent not declared"},
	}}
}

func TestReportPrint(t *testing.T) {
	var b strings.Builder
	if err := sampleReport().Print(&b); err != nil {
		t.Fatal(err)
	}
	want := `C01  MUST   PASS desc C01
C02  MUST   FAIL desc C02: status 200 | second line
C11  SHOULD FAIL desc C11: bad <xml> & "quotes"
C19  SHOULD SKIP desc C19: Features.Concurrent not declared
1 passed, 2 failed, 1 skipped
`
	if b.String() != want {
		t.Errorf("Print:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReportFailed(t *testing.T) {
	r := sampleReport()
	for _, tt := range []struct {
		level conformance.Level
		ids   string
	}{{conformance.Must, "C02"}, {conformance.Should, "C11"}, {"", "C02 C11"}} {
		var ids []string
		for _, res := range r.Failed(tt.level) {
			ids = append(ids, res.ID)
		}
		if got := strings.Join(ids, " "); got != tt.ids {
			t.Errorf("Failed(%q) = %q, want %q", tt.level, got, tt.ids)
		}
	}
}

func TestReportJUnit(t *testing.T) {
	var b strings.Builder
	if err := sampleReport().WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suite    struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b.String())
	}
	if doc.Tests != 4 || doc.Failures != 2 || doc.Skipped != 1 || len(doc.Suite.Cases) != 4 {
		t.Fatalf("counts %d/%d/%d, %d cases:\n%s", doc.Tests, doc.Failures, doc.Skipped, len(doc.Suite.Cases), b.String())
	}
	c := doc.Suite.Cases
	if c[0].Name != "C01 MUST desc C01" || c[0].Failure != nil || c[0].Skipped != nil {
		t.Errorf("case 0: %+v", c[0])
	}
	if c[2].Failure == nil || c[2].Failure.Message != `bad <xml> & "quotes"` {
		t.Errorf("case 2 failure: %+v", c[2].Failure)
	}
	if c[3].Skipped == nil {
		t.Errorf("case 3 not skipped")
	}
}

func TestLoadFixtures(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"C05.js":    "function niam(a) { return a }",
		"C12.zip":   "PK\x03\x04 not really a zip",
		"C10.bin":   "\x00\x01",
		"W05.wat":   `(module (func (export "_start")))`,
		"README.md": "ignored",
		"X99.js":    "not a case: ignored",
		"notes.txt": "ignored",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fx, err := conformance.LoadFixtures(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fx.IDs(), " "); got != "C05 C10 C12 W05" {
		t.Errorf("IDs = %q", got)
	}
	if fx["C05"].Binary || fx["C05"].Code != files["C05.js"] {
		t.Errorf("C05 = %+v, want the text as is", fx["C05"])
	}
	for _, id := range []string{"C10", "C12", "W05"} {
		if !fx[id].Binary {
			t.Errorf("%s not binary", id)
		}
	}
	if !strings.HasPrefix(fx["W05"].Code, "AGFzbQ") { // base64 of "\0asm"
		t.Errorf("W05 is not compiled wasm: %q", fx["W05"].Code)
	}

	if err := os.WriteFile(filepath.Join(dir, "C05.py"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := conformance.LoadFixtures(dir); err == nil || !strings.Contains(err.Error(), "two files for C05") {
		t.Errorf("duplicate: err = %v", err)
	}
	if _, err := conformance.LoadFixtures(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no file") {
		t.Errorf("empty dir: err = %v", err)
	}
	if _, err := conformance.LoadFixtures(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir: no error")
	}
	skips := t.TempDir()
	os.WriteFile(filepath.Join(skips, "C14.skip"), []byte("  no exceptions here\n"), 0o644)
	if fx, err := conformance.LoadFixtures(skips); err != nil || fx["C14"].Skip != "no exceptions here" {
		t.Errorf("skip file: %+v, %v", fx, err)
	}
	os.WriteFile(filepath.Join(skips, "C15.skip"), nil, 0o644)
	if _, err := conformance.LoadFixtures(skips); err == nil || !strings.Contains(err.Error(), "C15.skip is empty") {
		t.Errorf("empty skip file: err = %v", err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "C05.wat"), []byte("(module (oops"), 0o644)
	if _, err := conformance.LoadFixtures(bad); err == nil || !strings.Contains(err.Error(), "wat2wasm C05.wat") {
		t.Errorf("bad wat: err = %v", err)
	}
}

func TestBuiltinFixtures(t *testing.T) {
	if _, err := conformance.BuiltinFixtures("ruby:3"); err == nil || !strings.Contains(err.Error(), "LoadFixtures") {
		t.Errorf("ruby: err = %v", err)
	}
	// Every case that deploys code has, for every container kind, either
	// code or a documented reason (ID.skip) why it does not apply.
	needCode := []string{"C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10", "C12", "C13",
		"C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21", "C22", "C23", "B08"}
	for _, kind := range []string{"nodejs:20", "python:3", "native"} {
		t.Run(kind, func(t *testing.T) {
			fx, err := conformance.BuiltinFixtures(kind)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range needCode {
				f, ok := fx[id]
				switch {
				case !ok:
					t.Errorf("%s: no fixture and no %s.skip", id, id)
				case f.Source == "" || (f.Code == "" && f.Skip == ""):
					t.Errorf("%s: empty fixture %+v", id, f)
				}
			}
			if n := len(fx["C21"].Code); n < 500000 {
				t.Errorf("C21 has %d bytes, want >= 500000", n)
			}
			for _, id := range []string{"C12", "C22"} {
				if !fx[id].Binary {
					t.Errorf("%s is not a binary (zip) action", id)
				}
			}
		})
	}
	t.Run("no wat2wasm", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		if _, err := conformance.BuiltinFixtures("wasm"); err == nil || !strings.Contains(err.Error(), "needs wat2wasm") {
			t.Errorf("err = %v", err)
		}
	})
	fx := wasmFixtures(t)
	for _, c := range append(conformance.RuntimeCases(), conformance.BackendCases()...) {
		if f, ok := fx[c.ID]; ok && (f.Code == "" || f.Source == "") {
			t.Errorf("%s: empty fixture %+v", c.ID, f)
		}
	}
}

// docs/conformance.md lists every case with its level.
func TestDocsListEveryCase(t *testing.T) {
	doc, err := os.ReadFile("../docs/conformance.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(conformance.RuntimeCases(), conformance.BackendCases()...) {
		if !strings.Contains(string(doc), "| "+c.ID+" | "+string(c.Level)+" |") {
			t.Errorf("docs/conformance.md has no row \"| %s | %s |\"", c.ID, c.Level)
		}
	}
}
