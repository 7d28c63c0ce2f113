package dev

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// killWait bounds the wait for a process after SIGKILL.
const killWait = 10 * time.Second

// Process is one running `samsa server` child process. Its output (stdout
// and stderr) is appended to Spec.LogPath.
type Process struct {
	Spec NodeSpec

	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been waited for
	err    error         // the exit status; valid after exited is closed
}

// StartProcess starts binary with spec.Args() and env (os.Environ form; nil
// means this process's environment). It creates the data directory and the
// log file's directory. The child runs in its own process group, so a
// Ctrl-C in the terminal reaches only the parent, which decides how to stop
// it; on Linux it is also killed if the parent dies.
func StartProcess(binary string, spec NodeSpec, env []string) (*Process, error) {
	if err := os.MkdirAll(spec.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("dev: node %d: data dir: %w", spec.ID, err)
	}
	if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
		return nil, fmt.Errorf("dev: node %d: log dir: %w", spec.ID, err)
	}
	logFile, err := os.OpenFile(spec.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dev: node %d: log file: %w", spec.ID, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	args := spec.Args()
	fmt.Fprintf(logFile, "=== %s: starting node %d: %s %s\n",
		time.Now().Format(time.RFC3339), spec.ID, binary, strings.Join(args, " "))
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dev: node %d: start %s: %w", spec.ID, binary, err)
	}
	p := &Process{Spec: spec, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been waited for.
func (p *Process) Done() <-chan struct{} { return p.exited }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// ExitErr returns how the process ended (nil for status 0); call it after
// Done is closed.
func (p *Process) ExitErr() error { return p.err }

// Signal sends sig to the process; it does nothing once the process has
// been waited for.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("dev: node %d: signal %v: %w", p.Spec.ID, sig, err)
	}
	return nil
}

// Kill sends SIGKILL and waits (at most killWait) for the process to end.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.wait(killWait)
}

// Terminate asks the process to stop with SIGTERM, waits up to grace, then
// kills it. It reports whether SIGKILL was needed.
func (p *Process) Terminate(grace time.Duration) (killed bool, err error) {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return false, err
	}
	if p.wait(grace) == nil {
		return false, nil
	}
	return true, p.Kill()
}

// wait waits up to d for the process to end.
func (p *Process) wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
		return fmt.Errorf("dev: node %d (pid %d) still running after %v", p.Spec.ID, p.PID(), d)
	}
}

// maxTailBytes bounds how much of a log LogTail reads.
const maxTailBytes = 64 << 10

// LogTail returns the last n lines of the file at path (reading at most its
// last 64 KiB), or a note saying why it could not be read.
func LogTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	off := max(st.Size()-maxTailBytes, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if off > 0 { // drop the partial first line
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if i := lastCrash(lines); i >= 0 && len(lines)-i > n {
		// A Go crash: its first lines say what happened, the goroutine
		// dumps after them matter less.
		start := max(i-2, 0)
		more := len(lines) - (start + n)
		return strings.Join(lines[start:start+n], "\n") + fmt.Sprintf("\n... (%d more lines)", more)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lastCrash returns the index of the last line that starts a Go panic or
// fatal error, or -1.
func lastCrash(lines []string) int {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "panic: ") || strings.HasPrefix(lines[i], "fatal error: ") {
			return i
		}
	}
	return -1
}
