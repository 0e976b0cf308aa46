package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store/postgres"
	"github.com/stokehq/stoke/core/store/postgres/pgtest"
)

// The cluster tests run real processes: the stoke binary built once, as
// `stoke kafka`, `stoke controller` and two `stoke invoker`, over a
// private PostgreSQL. Every process is killed when the test ends.

var (
	stokeBinOnce sync.Once
	stokeBin     string
	stokeBinErr  error
)

func buildStoke(t *testing.T) string {
	t.Helper()
	stokeBinOnce.Do(func() {
		stokeBin = filepath.Join(binDir, "stoke")
		out, err := exec.Command("go", "build", "-o", stokeBin, ".").CombinedOutput()
		if err != nil {
			stokeBinErr = fmt.Errorf("go build stoke: %v\n%s", err, out)
		}
	})
	if stokeBinErr != nil {
		t.Fatal(stokeBinErr)
	}
	return stokeBin
}

// proc is one stoke process of the cluster.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildStoke(t), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, b)
		}
	})
	return p
}

// kill is kill -9, and waits for the process to be gone.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func waitFile(t *testing.T, p *proc, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited early:\n%s", p.name, p.logText())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s not ready", p.name)
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// cluster is the set of processes of one test.
type cluster struct {
	t         *testing.T
	dir       string
	kafkaAddr string
	storeURL  string
	broker    *proc
	ctl       *proc
	api       string
	invokers  []*proc
}

func (c *cluster) startBroker() {
	ready := filepath.Join(c.t.TempDir(), "kafka.ready")
	c.broker = startProc(c.t, "kafka", "kafka", "--listen", c.kafkaAddr,
		"--data-dir", filepath.Join(c.dir, "kafka"), "--ready-file", ready, "--log-level", "warn")
	waitFile(c.t, c.broker, ready)
}

func (c *cluster) startController() {
	ready := filepath.Join(c.t.TempDir(), "controller.ready")
	c.ctl = startProc(c.t, "controller", "controller", "--id", "0", "--kafka", c.kafkaAddr, "--store", c.storeURL,
		"--port", "0", "--ready-file", ready, "--completion-grace", "2s", "--offline-after", "3s",
		"--concurrent-invocations", "0", "--log-level", "warn")
	c.api = "http://" + waitFile(c.t, c.ctl, ready)
}

func (c *cluster) startInvoker(id int) {
	ready := filepath.Join(c.t.TempDir(), fmt.Sprint("invoker", id, ".ready"))
	p := startProc(c.t, fmt.Sprint("invoker", id), "invoker", "--id", fmt.Sprint(id), "--kafka", c.kafkaAddr,
		"--store", c.storeURL, "--memory", "2048", "--data-dir", filepath.Join(c.dir, "inv"),
		"--pause-grace", "0", "--ready-file", ready, "--log-level", "warn")
	waitFile(c.t, p, ready)
	for len(c.invokers) <= id {
		c.invokers = append(c.invokers, nil)
	}
	c.invokers[id] = p
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 70 * time.Second}

// call makes an authenticated API request and returns status and body.
func (c *cluster) call(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.api+"/api/v1/namespaces/guest"+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(entity.GuestUUID, entity.GuestKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// untilOK invokes echo blocking until it answers 200 n times in a row, and
// returns how long that took.
func (c *cluster) untilOK(n int, within time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	ok := 0
	var last string
	for time.Since(start) < within {
		code, body, err := c.call("POST", "/actions/echo?blocking=true&result=true&timeout=5000", map[string]int{"x": 1})
		if err == nil && code == http.StatusOK {
			if ok++; ok == n {
				return time.Since(start)
			}
			continue
		}
		ok = 0
		last = fmt.Sprintf("%d %s %v", code, body, err)
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("echo did not answer 200 %d times in a row within %v; last: %s", n, within, last)
	return 0
}

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test runs processes; skipped in -short")
	}
	buildStoke(t)
	url, stop := pgtest.Start(t)
	t.Cleanup(stop)
	c := &cluster{t: t, dir: t.TempDir(), kafkaAddr: freeAddr(t), storeURL: url}
	c.startBroker()
	c.startController()
	c.startInvoker(0)
	c.startInvoker(1)

	code := base64.StdEncoding.EncodeToString(echoWasm)
	status, body, err := c.call("PUT", "/actions/echo?overwrite=true", map[string]any{
		"exec":   map[string]any{"kind": "wasm", "code": code, "binary": true},
		"limits": map[string]any{"timeout": 1000, "memory": 128},
	})
	if err != nil || status != http.StatusOK {
		t.Fatalf("deploy echo: %d %s %v", status, body, err)
	}
	took := c.untilOK(3, 20*time.Second)
	t.Logf("cluster up: echo answers after %v", took.Round(time.Millisecond))

	ctx := context.Background()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	t.Run("malformed messages are skipped", func(t *testing.T) {
		p, err := ck.NewProducer(&ck.ConfigMap{"bootstrap.servers": c.kafkaAddr, "go.delivery.reports": false})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		garbage := [][]byte{[]byte("not json"), []byte("{}"), {0, 1, 2, 0xff}, []byte(`{"activationId":""}`), []byte(`[1,2`)}
		for _, topic := range []string{"invoker0", "invoker1"} {
			for _, g := range garbage {
				if err := p.Produce(&ck.Message{TopicPartition: ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny}, Value: g}, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		if left := p.Flush(5000); left != 0 {
			t.Fatalf("%d garbage messages not delivered", left)
		}
		c.untilOK(5, 10*time.Second)
		// The invokers said what they skipped, and lived.
		deadline := time.Now().Add(5 * time.Second)
		for _, inv := range c.invokers {
			for !strings.Contains(inv.logText(), "skipping unreadable message") {
				if time.Now().After(deadline) {
					t.Fatalf("%s did not log the malformed messages:\n%s", inv.name, inv.logText())
				}
				time.Sleep(50 * time.Millisecond)
			}
			select {
			case <-inv.done:
				t.Fatalf("%s died", inv.name)
			default:
			}
		}
	})

	t.Run("kill -9 an invoker with 1000 in flight", func(t *testing.T) {
		const total, workers = 1000, 32
		var (
			mu       sync.Mutex
			accepted []string
			refused  = map[int]int{}
			sent     atomic.Int64
			killed   = make(chan time.Time, 1)
		)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := sent.Add(1)
					if i > total {
						return
					}
					if i == total/2 {
						c.invokers[1].kill()
						killed <- time.Now()
					}
					status, body, err := c.call("POST", "/actions/echo", map[string]int64{"i": i})
					var r struct {
						ActivationID string `json:"activationId"`
					}
					mu.Lock()
					if err == nil && status == http.StatusAccepted && json.Unmarshal(body, &r) == nil && r.ActivationID != "" {
						accepted = append(accepted, r.ActivationID)
					} else {
						refused[status]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		killedAt := <-killed
		fired := time.Since(killedAt)

		// New calls reach the healthy invoker within a few seconds.
		healthyAfter := time.Since(killedAt) + c.untilOK(10, 15*time.Second)

		// Every accepted activation ends with exactly one record.
		var normal, forced, otherErr, lost int
		deadline := time.Now().Add(20 * time.Second)
		for {
			normal, forced, otherErr, lost = 0, 0, 0, 0
			for _, id := range accepted {
				a, err := db.Activation(ctx, "guest", id)
				switch {
				case err != nil:
					lost++
				case a.StatusCode == entity.StatusSuccess:
					normal++
				case strings.Contains(string(a.Response.Result), "not completed by the invoker"):
					forced++
				default:
					otherErr++
				}
			}
			if lost == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		// An id is the records' primary key: a second completion of one
		// activation could only replace its record, never add one. So the
		// duplicates to look for are ids accepted twice.
		uniq := map[string]bool{}
		for _, id := range accepted {
			uniq[id] = true
		}
		dups := len(accepted) - len(uniq)
		t.Logf("fired %d (kill after %d, %v of firing after it), accepted %d, refused %v", total, total/2, fired.Round(time.Millisecond), len(accepted), refused)
		t.Logf("completed normally %d, forced %d, other whisk errors (skipped stale) %d, lost %d, duplicates %d", normal, forced, otherErr, lost, dups)
		t.Logf("new calls answered by the healthy invoker %v after the kill", healthyAfter.Round(time.Millisecond))
		if lost != 0 {
			t.Errorf("%d accepted activations have no record", lost)
		}
		if len(accepted) < total*9/10 {
			t.Errorf("only %d of %d invokes accepted: %v", len(accepted), total, refused)
		}
		if healthyAfter > 15*time.Second {
			t.Errorf("healthy again only after %v", healthyAfter)
		}
		if dups != 0 {
			t.Errorf("%d duplicate activation ids", dups)
		}
	})

	t.Run("restart broker and controller", func(t *testing.T) {
		c.ctl.kill()
		c.broker.kill()
		down := time.Now()
		c.startBroker()
		c.startController()
		took := c.untilOK(3, 40*time.Second)
		t.Logf("broker and controller restarted; invokes succeed again %v after the kill (%v after the controller was ready)",
			time.Since(down).Round(time.Millisecond), took.Round(time.Millisecond))
	})
}
