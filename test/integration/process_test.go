package integration

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/samsabin"
)

// samsaBinary returns the samsa binary the tests run (built once per test
// process, see samsabin).
func samsaBinary(t *testing.T) string { return samsabin.Must(t) }

// serverProc is a `samsa server` child process.
type serverProc struct {
	cmd     *exec.Cmd
	addr    string // Kafka listener, from the "samsa started" log line
	dataDir string

	mu     sync.Mutex
	output strings.Builder // everything the process wrote to stderr

	exited  chan struct{} // closed when Wait returned
	waitErr error         // valid after exited is closed
}

// startedLine matches the log line a node writes once it serves.
var startedLine = regexp.MustCompile(`msg="samsa started".* kafka=(\S+)`)

// startProc runs `samsa server` on dataDir with free loopback ports and the
// extra properties in set, and waits until it logs its Kafka address. The
// process is killed (by PID) when the test ends if it still runs.
func startProc(t *testing.T, dataDir string, set map[string]string) *serverProc {
	t.Helper()
	args := []string{"server", "--data-dir", dataDir, "--kafka-addr", "127.0.0.1:0",
		"--controller-addr", "127.0.0.1:0", "--http-addr", "", "--log-level", "info"}
	for k, v := range set {
		args = append(args, "--set", k+"="+v)
	}
	p := &serverProc{cmd: exec.Command(samsaBinary(t), args...), dataDir: dataDir, exited: make(chan struct{})}
	p.cmd.Env = cleanEnv()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start samsa: %v", err)
	}
	t.Cleanup(func() { p.stop(t) })
	addrs := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			if p.output.Len() < 4<<20 {
				p.output.WriteString(line + "\n")
			}
			p.mu.Unlock()
			if m := startedLine.FindStringSubmatch(line); m != nil {
				select {
				case addrs <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-scanned // Wait must follow the last read of the pipe
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.addr = <-addrs:
	case <-p.exited:
		t.Fatalf("samsa exited before serving: %v\n%s", p.waitErr, p.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("samsa did not log its address within 30 s:\n%s", p.log())
	}
	return p
}

// cleanEnv is the test's environment without SAMSA_* settings, so the
// child runs with the flags it is given only.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SAMSA_") {
			env = append(env, kv)
		}
	}
	return env
}

// log returns what the process wrote to stderr so far.
func (p *serverProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// kill sends SIGKILL and waits for the process to end.
func (p *serverProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("SIGKILL samsa (pid %d): %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("samsa (pid %d) still running 10 s after SIGKILL", p.cmd.Process.Pid)
	}
}

// terminate sends SIGTERM and waits for a clean exit (status 0).
func (p *serverProc) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM samsa (pid %d): %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("samsa (pid %d) still running 30 s after SIGTERM:\n%s", p.cmd.Process.Pid, p.log())
	}
	if p.waitErr != nil {
		t.Fatalf("samsa exited uncleanly after SIGTERM: %v\n%s", p.waitErr, p.log())
	}
}

// stop kills the process if it still runs (test cleanup).
func (p *serverProc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("samsa (pid %d) did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}
