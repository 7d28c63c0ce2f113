//go:build unix

package procluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/samsa-streaming/samsa/internal/testutil/samsabin"
)

// EnvBinary names a prebuilt samsa binary to use when Options.Binary is
// empty (CI can build once for every package).
const EnvBinary = samsabin.EnvBinary

// sourceAddressProperty is the property that binds a node's outbound
// inter-node connections to its own loopback IP.
const sourceAddressProperty = "inter.node.source.address"

// samsaBinary returns opt's binary, or samsabin's ($SAMSA_TEST_BINARY, or
// cmd/samsa built once per test process).
func samsaBinary(opt string) (string, error) {
	if opt != "" {
		return opt, nil
	}
	return samsabin.Path()
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
