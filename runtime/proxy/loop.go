package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

var (
	// errExited: the child died while a request was in flight (400).
	errExited = errors.New("command exited")
	// errDead: the child was already gone when the request came (500).
	errDead = errors.New("command exited")
)

// loop is an ActionLoop child: requests go in on stdin one line each,
// results come back on fd 3 one line each, in the same order. Keeping a
// FIFO of waiters (instead of a lock held across the round trip) lets a
// concurrent launcher work on several requests at once.
type loop struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	wmu sync.Mutex // one writer on stdin at a time

	qmu   sync.Mutex
	queue []chan reply
	dead  bool
	gone  chan struct{} // closed when the child has exited and been reaped
}

type reply struct {
	line []byte
	err  error
}

// startError is an init failure with its HTTP status.
type startError struct {
	status int
	msg    string
	log    string // extra line for stderr
}

func (e *startError) Error() string { return e.msg }

// startLoop starts argv in dir with exactly env. With ack it waits for the
// child's {"ok":true} on fd 3; without, it gives the child wait to fail.
func startLoop(ctx context.Context, argv []string, dir string, env []string, stdout, stderr *os.File, ack bool, wait time.Duration) (*loop, error) {
	l, ackc, err := spawn(argv, dir, env, stdout, stderr, ack)
	if err != nil {
		return nil, err
	}
	if !ack {
		select {
		case <-l.gone:
			return nil, &startError{status: 502, msg: "cannot start action: command exited"}
		case <-time.After(wait):
			return l, nil
		}
	}
	if err := l.awaitAck(ctx, ackc); err != nil {
		return nil, err
	}
	return l, nil
}

// spawn starts argv with its stdin and fd 3 wired to a new loop. With ack,
// the channel receives the child's first fd 3 line (its start-up ack): the
// waiter is queued before anything is read, so the line cannot be missed.
func spawn(argv []string, dir string, env []string, stdout, stderr *os.File, ack bool) (*loop, chan reply, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, &startError{status: 502, msg: "cannot start action: " + err.Error()}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.ExtraFiles = []*os.File{pw}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, nil, &startError{status: 502, msg: "cannot start action: " + err.Error()}
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, nil, &startError{status: 502, msg: "cannot start action: command exited", log: err.Error()}
	}
	pw.Close() // the child holds the write end; EOF on pr means it is gone
	l := &loop{cmd: cmd, stdin: stdin, gone: make(chan struct{})}
	var ackc chan reply
	if ack {
		ackc = make(chan reply, 1)
		l.queue = append(l.queue, ackc)
	}
	go l.read(pr)
	go func() {
		cmd.Wait()
		close(l.gone)
	}()
	return l, ackc, nil
}

// awaitAck waits for the start-up ack on ackc. On failure the child is
// killed and the error says why, as an init failure.
func (l *loop) awaitAck(ctx context.Context, ackc chan reply) error {
	select {
	case r := <-ackc:
		if r.err != nil {
			l.kill()
			return &startError{status: 502, msg: "Cannot start action. Check logs for details.",
				log: "Command exited abruptly during initialization."}
		}
		if err := checkAck(r.line); err != nil {
			l.kill()
			return err
		}
		return nil
	case <-ctx.Done():
		l.kill()
		return &startError{status: 502, msg: "cannot start action: " + ctx.Err().Error()}
	}
}

// checkAck reads the start-up line. Besides {"ok":true}, Stoke's launchers
// may answer {"error": …} when the user's code fails to load, which
// becomes the init error.
func checkAck(line []byte) error {
	var a struct {
		OK    bool            `json:"ok"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(line, &a); err != nil {
		return &startError{status: 502, msg: fmt.Sprintf("cannot start action: bad ack: %v", err)}
	}
	if len(a.Error) > 0 {
		var s string
		if json.Unmarshal(a.Error, &s) != nil {
			s = string(a.Error)
		}
		return &startError{status: 502, msg: s}
	}
	if !a.OK {
		return &startError{status: 502, msg: "The action did not initialize properly."}
	}
	return nil
}

// read hands each fd 3 line to the oldest waiter. On EOF every waiter,
// present and future, fails.
func (l *loop) read(r *os.File) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break
		}
		l.qmu.Lock()
		if len(l.queue) > 0 {
			ch := l.queue[0]
			l.queue = l.queue[1:]
			ch <- reply{line: line}
		}
		l.qmu.Unlock()
	}
	l.qmu.Lock()
	l.dead = true
	for _, ch := range l.queue {
		ch <- reply{err: errExited}
	}
	l.queue = nil
	l.qmu.Unlock()
}

// interact sends one request line and waits for its result line.
func (l *loop) interact(ctx context.Context, line []byte) ([]byte, error) {
	ch := make(chan reply, 1)
	l.wmu.Lock()
	l.qmu.Lock()
	if l.dead {
		l.qmu.Unlock()
		l.wmu.Unlock()
		return nil, errDead
	}
	l.queue = append(l.queue, ch)
	l.qmu.Unlock()
	_, err := l.stdin.Write(append(line, '\n'))
	l.wmu.Unlock()
	if err != nil {
		// The reader will fail our waiter once fd 3 closes.
		l.kill()
	}
	select {
	case r := <-ch:
		return r.line, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// kill stops the child and waits until it is reaped.
func (l *loop) kill() {
	l.cmd.Process.Kill()
	l.stdin.Close()
	<-l.gone
}
