// Package clitest holds what the CLI packages' tests share: running a cobra
// command in-process, the brokers a suite runs against, and names unique to
// a test run.
package clitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
)

// EnvBrokers, when set, points a suite at a running cluster (samsa or
// Kafka) instead of an in-process kfake broker.
const EnvBrokers = "SAMSA_TEST_BROKERS"

// Timeout bounds one command run, so that a hung command fails the test.
const Timeout = 45 * time.Second

// Result is what one in-process command run produced.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Run runs cmd with args (plus --brokers brokers when not empty) and stdin
// in-process, bounded by ctx.
func Run(ctx context.Context, cmd *cobra.Command, brokers, stdin string, args ...string) Result {
	var out, errOut bytes.Buffer
	if brokers != "" {
		args = append(args, "--brokers", brokers)
	}
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(ctx)
	return Result{Stdout: out.String(), Stderr: errOut.String(), Err: err}
}

// RunTimeout is Run with a Timeout deadline.
func RunTimeout(cmd *cobra.Command, brokers, stdin string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	return Run(ctx, cmd, brokers, stdin, args...)
}

// Brokers returns the seed brokers for a test: $SAMSA_TEST_BROKERS, or a
// fresh three-broker kfake cluster on 127.0.0.1, closed when the test ends.
func Brokers(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(EnvBrokers); addr != "" {
		return addr
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

var nonNameChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// UniqueName returns a topic or group name unique to this test run (the
// test's name, the suffixes, a random tag), so suites can share one real
// cluster.
func UniqueName(t testing.TB, suffixes ...string) string {
	var b [4]byte
	rand.Read(b[:])
	parts := append([]string{nonNameChars.ReplaceAllString(t.Name(), "-")}, suffixes...)
	parts = append(parts, hex.EncodeToString(b[:]))
	return strings.ToLower(strings.Join(parts, "-"))
}
