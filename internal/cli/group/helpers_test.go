package group

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/cli/clitest"
)

// testBrokers returns the seed brokers for a test (see clitest.Brokers).
func testBrokers(t *testing.T) string { return clitest.Brokers(t) }

// uniqueName returns a topic or group name unique to this test run.
func uniqueName(t *testing.T, suffix string) string { return clitest.UniqueName(t, suffix) }

// result is what one in-process command run produced.
type result struct {
	stdout, stderr string
	err            error
}

// run runs `group args... --brokers brokers` in-process with a deadline, so
// a hung command fails the test.
func run(t *testing.T, brokers string, args ...string) result {
	t.Helper()
	cmd := NewCommand()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	r := clitest.RunTimeout(cmd, brokers, "", args...)
	return result{stdout: r.Stdout, stderr: r.Stderr, err: r.Err}
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, brokers string, args ...string) string {
	t.Helper()
	r := run(t, brokers, args...)
	if r.err != nil {
		t.Fatalf("group %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// mustFail runs a command that must fail.
func mustFail(t *testing.T, brokers string, args ...string) result {
	t.Helper()
	r := run(t, brokers, args...)
	if r.err == nil {
		t.Fatalf("group %s: succeeded, want an error\nstdout:\n%s", strings.Join(args, " "), r.stdout)
	}
	return r
}

var columnGap = regexp.MustCompile(`\S+( \S+)*`)

// tableRows parses an aligned table (header first, columns at least two
// spaces apart, a header may hold one space as in "COORDINATOR (ID)") into
// maps by column name, cutting each line at the header's column starts.
// It stops at the first blank line.
func tableRows(t *testing.T, s string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatalf("no table in output %q", s)
	}
	locs := columnGap.FindAllStringIndex(lines[0], -1)
	header := make([]string, len(locs))
	for i, l := range locs {
		header[i] = lines[0][l[0]:l[1]]
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		row := make(map[string]string, len(header))
		for i, h := range header {
			start := locs[i][0]
			if start >= len(l) {
				row[h] = ""
				continue
			}
			end := len(l)
			if i+1 < len(locs) && locs[i+1][0] < len(l) {
				end = locs[i+1][0]
			}
			row[h] = strings.TrimSpace(l[start:end])
		}
		rows = append(rows, row)
	}
	return rows
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode json: %v\n%s", err, s)
	}
}

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

// newAdmin returns an admin client for checks made behind the CLI's back.
func newAdmin(t *testing.T, brokers string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// committed returns the group's committed offsets of topic by partition.
func committed(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resps, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resps[topic] {
		if o.Err != nil {
			t.Fatalf("fetch offsets of %s: partition %d: %v", group, p, o.Err)
		}
		if o.At >= 0 {
			out[p] = o.At
		}
	}
	return out
}

// stateOf returns the group's state as DescribeGroups reports it.
func stateOf(t *testing.T, adm *kadm.Client, group string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatalf("describe %s: %v", group, err)
	}
	return ds[group].State
}
