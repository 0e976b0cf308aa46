package proxy

import (
	"io"
	"os"
	"sync"
)

// Sentinel ends one activation's logs on each stream (same value as
// sdk.Sentinel; this package stays free of non-stdlib imports).
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// stream is one log stream (stdout or stderr) shared by the proxy and its
// children. Children get file, the proxy writes to file too, so the
// kernel keeps the order of child output and sentinels.
type stream struct {
	file *os.File
	mu   sync.Mutex // keeps proxy lines whole when runs overlap

	// Set when the caller's writer is not a file: a pipe feeds it.
	pr   *os.File
	done chan struct{}
}

func newStream(w io.Writer) (*stream, error) {
	if f, ok := w.(*os.File); ok {
		return &stream{file: f}, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s := &stream{file: pw, pr: pr, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		io.Copy(w, pr)
	}()
	return s, nil
}

func (s *stream) line(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file.Write([]byte(text + "\n"))
}

func (s *stream) write(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file.Write(b)
}

// close drains a piped stream into the caller's writer. Children must be
// gone first: they hold the pipe's write end.
func (s *stream) close() {
	if s.pr == nil {
		return
	}
	s.file.Close()
	<-s.done
	s.pr.Close()
}
