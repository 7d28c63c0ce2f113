package cli

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli/clitest"
)

// envTestBrokers, when set, points the suite at a running cluster.
const envTestBrokers = clitest.EnvBrokers

// testBrokers returns the seed brokers for a test (see clitest.Brokers).
func testBrokers(t *testing.T) string { return clitest.Brokers(t) }

// usingKfake reports whether the suite runs against the in-process fake.
func usingKfake() bool { return os.Getenv(envTestBrokers) == "" }

// topicName returns a topic name unique to this test run.
func topicName(t *testing.T, suffix string) string { return clitest.UniqueName(t, suffix) }

// result is what one in-process command run produced.
type result struct {
	stdout, stderr string
	err            error
}

// samsa runs the root command with args (plus --brokers) in-process, feeding
// stdin, with a deadline so that a hung command fails the test.
func samsa(t *testing.T, brokers, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	return samsaCtx(ctx, brokers, stdin, args...)
}

func samsaCtx(ctx context.Context, brokers, stdin string, args ...string) result {
	r := clitest.Run(ctx, NewRootCommand(), brokers, stdin, args...)
	return result{stdout: r.Stdout, stderr: r.Stderr, err: r.Err}
}

// mustSamsa runs a command that must succeed and returns its stdout.
func mustSamsa(t *testing.T, brokers, stdin string, args ...string) string {
	t.Helper()
	r := samsa(t, brokers, stdin, args...)
	if r.err != nil {
		t.Fatalf("samsa %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// mustFail runs a command that must fail and returns its error text.
func mustFail(t *testing.T, brokers, stdin string, args ...string) result {
	t.Helper()
	r := samsa(t, brokers, stdin, args...)
	if r.err == nil {
		t.Fatalf("samsa %s: succeeded, want an error\nstdout:\n%s", strings.Join(args, " "), r.stdout)
	}
	return r
}

// lines splits output into lines without the trailing empty one.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// tableRows parses an aligned table (header first) into maps by column
// name, cutting every line at the columns' start positions in the header
// (cells such as "[1 2 3]" contain spaces).
func tableRows(t *testing.T, s string) []map[string]string {
	t.Helper()
	ls := lines(s)
	if len(ls) == 0 {
		t.Fatalf("no table in output %q", s)
	}
	header := strings.Fields(ls[0])
	starts := make([]int, len(header))
	pos := 0
	for i, h := range header {
		idx := strings.Index(ls[0][pos:], h)
		starts[i] = pos + idx
		pos = starts[i] + len(h)
	}
	var rows []map[string]string
	for _, l := range ls[1:] {
		row := make(map[string]string, len(header))
		for i, h := range header {
			if starts[i] >= len(l) {
				row[h] = ""
				continue
			}
			end := len(l)
			if i+1 < len(starts) && starts[i+1] < len(l) {
				end = starts[i+1]
			}
			row[h] = strings.TrimSpace(l[starts[i]:end])
		}
		rows = append(rows, row)
	}
	return rows
}

// section returns the lines of output under a "TITLE\n=====" heading, up to
// the next blank line.
func section(t *testing.T, out, title string) string {
	t.Helper()
	head := title + "\n" + strings.Repeat("=", len(title)) + "\n"
	i := strings.Index(out, head)
	if i < 0 {
		t.Fatalf("no %s section in:\n%s", title, out)
	}
	rest := out[i+len(head):]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

func itoa(i int) string { return strconv.Itoa(i) }

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
