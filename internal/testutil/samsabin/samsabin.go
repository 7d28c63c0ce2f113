// Package samsabin gives process tests a samsa binary: $SAMSA_TEST_BINARY
// when set, otherwise cmd/samsa built once per test process into
// <module root>/tmp/samsa (tmp/ ignores itself in git). The build goes to
// a file of its own first and is renamed into place, so test processes
// building side by side never run a half-written binary.
package samsabin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// EnvBinary names a prebuilt samsa binary (CI can build once for every
// package).
const EnvBinary = "SAMSA_TEST_BINARY"

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// Path returns the binary's path, building it on first use.
func Path() (string, error) {
	if env := os.Getenv(EnvBinary); env != "" {
		return env, nil
	}
	buildOnce.Do(func() { builtPath, buildErr = build() })
	return builtPath, buildErr
}

// Must is Path for tests: a build failure fails t.
func Must(t testing.TB) string {
	t.Helper()
	p, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func build() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("samsabin: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("samsabin: not inside a Go module (go env GOMOD = %q)", gomod)
	}
	root := filepath.Dir(gomod)
	dir := filepath.Join(root, "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("samsabin: %w", err)
	}
	// Keep the build out of git: tmp/ ignores everything in it.
	ignore := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(ignore); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(ignore, []byte("*\n"), 0o644); err != nil {
			return "", fmt.Errorf("samsabin: %w", err)
		}
	}
	final := filepath.Join(dir, "samsa")
	tmp := final + ".build-" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "./cmd/samsa")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("samsabin: go build ./cmd/samsa: %w\n%s", err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("samsabin: %w", err)
	}
	return final, nil
}
