package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// installHint ends every "tool missing" failure: a missing tool is a
	// broken setup, never a reason to skip.
	installHint = "run scripts/install-test-deps.sh"
	// debianPython is Debian's interpreter: python3 on PATH may be a pyenv
	// build that does not see Debian's dist-packages.
	debianPython = "/usr/bin/python3"
	// toolTimeout bounds every subprocess.
	toolTimeout = 60 * time.Second
	// maxToolOutput bounds what the suite keeps of a subprocess's output.
	maxToolOutput = 16 << 20
)

var (
	requireMu sync.Mutex
	requireOK = map[string]bool{} // checks that passed once, by name
)

// requireOnce runs check once per process for name and fails t with the
// install hint if it does not pass.
func requireOnce(t *testing.T, name string, check func() error) {
	t.Helper()
	requireMu.Lock()
	defer requireMu.Unlock()
	if requireOK[name] {
		return
	}
	if err := check(); err != nil {
		t.Fatalf("%s is not usable: %v: %s", name, err, installHint)
	}
	requireOK[name] = true
}

func requireKcat(t *testing.T) {
	t.Helper()
	requireOnce(t, "kcat", func() error {
		_, err := exec.LookPath("kcat")
		return err
	})
}

// requirePython checks that Debian's python3 can import every module.
func requirePython(t *testing.T, modules ...string) {
	t.Helper()
	name := "python modules " + strings.Join(modules, ",")
	requireOnce(t, name, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, debianPython, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", debianPython, err, bytes.TrimSpace(out))
		}
		return nil
	})
}

// kafkajsPackages are the npm packages the kafkajs driver loads.
var kafkajsPackages = []string{"kafkajs", "kafkajs-snappy", "kafkajs-lz4", "@kafkajs/zstd"}

func requireKafkajs(t *testing.T) {
	t.Helper()
	requireOnce(t, "kafkajs", func() error {
		if _, err := exec.LookPath("node"); err != nil {
			return err
		}
		for _, pkg := range kafkajsPackages {
			if _, err := os.Stat(filepath.Join("node", "node_modules", pkg, "package.json")); err != nil {
				return fmt.Errorf("npm package %s: %w", pkg, err)
			}
		}
		return nil
	})
}

// cappedBuffer keeps at most max bytes and notes that it dropped the rest.
type cappedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.truncated = true
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.buf.Write(p)
}

// runTool runs name with args and stdin, bounded by toolTimeout, and returns
// its stdout. Its stderr is logged (shown when the test fails or with -v)
// and is part of the returned error.
func runTool(ctx context.Context, t *testing.T, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = bytes.NewReader(stdin)
	stdout := &cappedBuffer{max: maxToolOutput}
	stderr := &cappedBuffer{max: maxToolOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	line := name + " " + strings.Join(args, " ")
	if s := strings.TrimSpace(stderr.buf.String()); s != "" {
		t.Logf("%s: stderr:\n%s", line, s)
	}
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return stdout.buf.Bytes(), fmt.Errorf("%s: timed out after %v: %w\nstderr:\n%s", line, time.Since(start).Round(time.Millisecond), err, stderr.buf.String())
	case err != nil:
		return stdout.buf.Bytes(), fmt.Errorf("%s: %w\nstderr:\n%s", line, err, stderr.buf.String())
	case stdout.truncated:
		return nil, fmt.Errorf("%s: more than %d bytes of output", line, maxToolOutput)
	}
	return stdout.buf.Bytes(), nil
}
