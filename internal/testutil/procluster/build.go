//go:build unix

package procluster

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// EnvBinary names a prebuilt samsa binary to use when Options.Binary is
// empty (CI can build once for every package).
const EnvBinary = "SAMSA_TEST_BINARY"

// sourceAddressProperty is the property that binds a node's outbound
// inter-node connections to its own loopback IP.
const sourceAddressProperty = "inter.node.source.address"

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// samsaBinary returns opt's binary, $SAMSA_TEST_BINARY, or cmd/samsa built
// once per test process into <module root>/tmp/samsa. The build goes to a
// file of its own first and is renamed into place, so test processes
// building side by side never run a half-written binary.
func samsaBinary(opt string) (string, error) {
	if opt != "" {
		return opt, nil
	}
	if env := os.Getenv(EnvBinary); env != "" {
		return env, nil
	}
	buildOnce.Do(func() { builtPath, buildErr = build() })
	return builtPath, buildErr
}

func build() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("procluster: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("procluster: not inside a Go module (go env GOMOD = %q)", gomod)
	}
	root := filepath.Dir(gomod)
	dir := filepath.Join(root, "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("procluster: %w", err)
	}
	// Keep the build out of git: tmp/ ignores everything in it.
	ignore := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(ignore); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(ignore, []byte("*\n"), 0o644); err != nil {
			return "", fmt.Errorf("procluster: %w", err)
		}
	}
	final := filepath.Join(dir, "samsa")
	tmp := final + ".build-" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "./cmd/samsa")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("procluster: go build ./cmd/samsa: %w\n%s", err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("procluster: %w", err)
	}
	return final, nil
}

var (
	supportMu sync.Mutex
	supports  = map[string]bool{} // binary path -> knows sourceAddressProperty
)

// bindsSourceAddress reports whether binary knows inter.node.source.address
// (listed in `samsa server --help`).
func bindsSourceAddress(binary string) (bool, error) {
	supportMu.Lock()
	defer supportMu.Unlock()
	if ok, seen := supports[binary]; seen {
		return ok, nil
	}
	out, err := exec.Command(binary, "server", "--help").CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("procluster: %s server --help: %w\n%s", binary, err, out)
	}
	ok := bytes.Contains(out, []byte(sourceAddressProperty))
	supports[binary] = ok
	return ok, nil
}

// childEnv is this process's environment without SAMSA_* variables, so a
// developer's settings do not leak into the nodes.
func childEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SAMSA_") {
			env = append(env, e)
		}
	}
	return env
}
