package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running private PostgreSQL server.
type Server struct {
	dir  string // data directory and socket directory's parent
	port int
	cmd  *exec.Cmd
	done chan error // the postgres process's exit
}

// startTimeout bounds initdb plus the server's start-up.
const startTimeout = 60 * time.Second

// StartServer initialises a data directory and starts postgres on it. It
// returns ErrNotInstalled (wrapped) when the binaries are missing. The
// caller must Stop it.
func StartServer() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := runAs()
	if err != nil {
		return nil, err
	}
	sweep()
	// Not t.TempDir: its parents are private to root, and the server may
	// run as another user.
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir}
	if err := s.start(bin, cred); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(bin string, cred *syscall.Credential) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	data := filepath.Join(s.dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
		"--encoding=UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}

	// A free port can be taken between the probe and postgres's bind:
	// when postgres exits at start-up, try another.
	var err error
	for range 3 {
		if s.port, err = freePort(); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		if err = s.run(ctx, bin, data, cred); err == nil || s.cmd != nil {
			return err
		}
	}
	return err
}

// run starts postgres and waits until it accepts connections.
func (s *Server) run(ctx context.Context, bin, data string, cred *syscall.Credential) error {
	logPath := filepath.Join(s.dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", data,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		// Throwaway data: no flushes to disk at all.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// If the test binary dies without Stop, take the server along
		// (SIGQUIT is PostgreSQL's immediate shutdown).
		Pdeathsig: syscall.SIGQUIT,
		Setpgid:   true,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.cmd = cmd
	s.done = make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()

	for {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case err := <-s.done:
			s.cmd = nil
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("pgtest: postgres exited: %v\n%s", err, log)
		case <-ctx.Done():
			return fmt.Errorf("pgtest: postgres did not start in %v: %w", startTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL is the address of database db on the server over TCP.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// SocketDir is the directory of the server's unix socket (the host= of a
// keyword/value connection string).
func (s *Server) SocketDir() string { return s.dir }

// Stop shuts the server down (fast shutdown: connections are cut) and
// removes its directory.
func (s *Server) Stop() error {
	var errs []error
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			// Immediate shutdown, then the whole process group.
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
			errs = append(errs, errors.New("postgres did not stop in 15s: killed"))
		}
		s.cmd = nil
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pgtest: stop: %w", err)
	}
	return nil
}

// binDir finds initdb and postgres: in $STOKE_PG_BIN when it is set
// (and only there), else in $PATH (Debian links only a few tools there),
// then in the newest /usr/lib/postgresql/*/bin.
func binDir() (string, error) {
	var dirs []string
	if d := os.Getenv("STOKE_PG_BIN"); d != "" {
		dirs = append(dirs, d)
	} else {
		if p, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				dirs = append(dirs, filepath.Dir(real))
			}
		}
		versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(versions, func(i, j int) bool { return pgVersion(versions[i]) > pgVersion(versions[j]) })
		dirs = append(dirs, versions...)
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: no initdb and postgres in %v: %w", dirs, ErrNotInstalled)
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// runAs picks the user the server runs as. PostgreSQL refuses to run as
// root, so root hands it to the "postgres" system user (Debian's package
// creates it), or else to "nobody".
func runAs() (cred *syscall.Credential, uid, gid int, err error) {
	if os.Geteuid() != 0 {
		return nil, os.Geteuid(), os.Getegid(), nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, uid, gid, nil
	}
	return nil, 0, 0, errors.New("pgtest: running as root and found no 'postgres' or 'nobody' user to run PostgreSQL as (it refuses root): useradd --system postgres")
}

// dirPrefix names the servers' directories in os.TempDir().
const dirPrefix = "stoke-pg-"

// sweep removes the directories of servers whose test binary was killed
// (the server itself dies with it): older than ten minutes, and with no
// live postmaster. A directory in use always has one after initdb.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if pid, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			first, _, _ := strings.Cut(string(pid), "\n")
			if n, err := strconv.Atoi(first); err == nil {
				// EPERM: alive, owned by someone else.
				if err := syscall.Kill(n, 0); err == nil || errors.Is(err, syscall.EPERM) {
					continue
				}
			}
		}
		os.RemoveAll(d)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
