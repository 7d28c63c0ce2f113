package group

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	numPartitions = 3
	perPartition  = 10
	consumerID    = "samsa-group-test"
)

// fixture is a topic with perPartition records in each of numPartitions
// partitions; record i of every partition has timestamp base + i seconds.
type fixture struct {
	brokers string
	topic   string
	base    time.Time
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{
		brokers: testBrokers(t),
		topic:   uniqueName(t, "t"),
		// Recent, so that a real cluster's retention keeps the records.
		base: time.Now().Add(-time.Hour).Truncate(time.Second),
	}
	adm := newAdmin(t, f.brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, numPartitions, 1, nil, f.topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(f.brokers, ",")...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range int32(numPartitions) {
		for i := range perPartition {
			recs = append(recs, &kgo.Record{
				Topic:     f.topic,
				Partition: p,
				Value:     fmt.Appendf(nil, "p%d-%d", p, i),
				Timestamp: f.base.Add(time.Duration(i) * time.Second),
			})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return f
}

// joinAndCommit starts a group member on the fixture's topic, waits until
// it holds every partition and commits the given offsets in the group's
// generation. The caller closes the client, which leaves the group.
func (f fixture) joinAndCommit(t *testing.T, group string, offsets map[int32]int64) *kgo.Client {
	t.Helper()
	var assigned atomic.Int32
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(f.brokers, ",")...),
		kgo.ClientID(consumerID),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(f.topic),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			assigned.Add(int32(len(m[f.topic])))
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	deadline := time.Now().Add(30 * time.Second)
	for assigned.Load() < numPartitions {
		if time.Now().After(deadline) {
			t.Fatalf("member of %s was assigned %d of %d partitions", group, assigned.Load(), numPartitions)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		cl.PollFetches(ctx)
		cancel()
	}
	commit := map[string]map[int32]kgo.EpochOffset{f.topic: {}}
	for p, o := range offsets {
		commit[f.topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var commitErr error
	cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		if err == nil {
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if rp.ErrorCode != 0 {
						commitErr = fmt.Errorf("partition %d: error code %d", rp.Partition, rp.ErrorCode)
					}
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("commit: %v", commitErr)
	}
	return cl
}

// byPartition indexes describe rows by PARTITION.
func byPartition(rows []map[string]string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range rows {
		out[r["PARTITION"]] = r
	}
	return out
}

func TestGroupLifecycle(t *testing.T) {
	f := newFixture(t)
	adm := newAdmin(t, f.brokers)
	group := uniqueName(t, "g")
	member := f.joinAndCommit(t, group, map[int32]int64{0: 4, 1: perPartition})

	// list: the group is Stable with one consumer member; --state filters.
	rows := tableRows(t, mustRun(t, f.brokers, "list"))
	var listed map[string]string
	for _, r := range rows {
		if r["GROUP"] == group {
			listed = r
		}
	}
	if listed == nil || listed["STATE"] != "Stable" || listed["PROTOCOL-TYPE"] != "consumer" || listed["MEMBERS"] != "1" {
		t.Fatalf("list row for %s: %v (rows %v)", group, listed, rows)
	}
	if out := mustRun(t, f.brokers, "list", "--state", "empty,dead"); strings.Contains(out, group) {
		t.Fatalf("list --state empty,dead shows the stable group:\n%s", out)
	}
	if out := mustRun(t, f.brokers, "list", "--state", "Stable"); !strings.Contains(out, group) {
		t.Fatalf("list --state Stable misses the group:\n%s", out)
	}

	// describe: lag = log end - committed; no commit shows "-".
	out := mustRun(t, f.brokers, "describe", group)
	header := strings.SplitN(out, "\n", 2)[0]
	if got := strings.Join(strings.Fields(header), " "); got != "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID" {
		t.Fatalf("describe header %q", got)
	}
	parts := byPartition(tableRows(t, out))
	want := map[string][3]string{"0": {"4", "10", "6"}, "1": {"10", "10", "0"}, "2": {"-", "10", "-"}}
	for p, w := range want {
		r := parts[p]
		if r == nil || r["GROUP"] != group || r["TOPIC"] != f.topic ||
			r["CURRENT-OFFSET"] != w[0] || r["LOG-END-OFFSET"] != w[1] || r["LAG"] != w[2] ||
			r["CONSUMER-ID"] == "-" || r["CONSUMER-ID"] == "" || r["HOST"] == "-" || r["CLIENT-ID"] != consumerID {
			t.Fatalf("partition %s: %v, want current/end/lag %v\n%s", p, r, w, out)
		}
	}
	memberID := parts["0"]["CONSUMER-ID"]

	var lags []struct {
		Group      string `json:"group"`
		State      string `json:"state"`
		TotalLag   int64  `json:"total_lag"`
		Partitions []struct {
			Partition     int32  `json:"partition"`
			CurrentOffset *int64 `json:"current_offset"`
			LogEndOffset  *int64 `json:"log_end_offset"`
			Lag           *int64 `json:"lag"`
			ConsumerID    string `json:"consumer_id"`
		} `json:"partitions"`
	}
	decodeJSON(t, mustRun(t, f.brokers, "describe", group, "--format", "json"), &lags)
	if len(lags) != 1 || lags[0].State != "Stable" || lags[0].TotalLag != 6 || len(lags[0].Partitions) != numPartitions {
		t.Fatalf("describe json: %+v", lags)
	}
	for _, p := range lags[0].Partitions {
		if p.Partition == 2 && (p.CurrentOffset != nil || p.Lag != nil || p.LogEndOffset == nil || *p.LogEndOffset != perPartition) {
			t.Fatalf("json row of uncommitted partition 2: %+v", p)
		}
		if p.ConsumerID != memberID {
			t.Fatalf("json row %d consumer %q, want %q", p.Partition, p.ConsumerID, memberID)
		}
	}
	if out := mustRun(t, f.brokers, "describe", group, "--verbose"); !strings.Contains(strings.SplitN(out, "\n", 2)[0], "LEADER-EPOCH") {
		t.Fatalf("describe --verbose lacks LEADER-EPOCH:\n%s", out)
	}

	// --members, with ASSIGNMENT under --verbose.
	out = mustRun(t, f.brokers, "describe", group, "--members", "--verbose")
	mrows := tableRows(t, out)
	wantAssign := fmt.Sprintf("%s(0,1,2)", f.topic)
	if len(mrows) != 1 || mrows[0]["GROUP"] != group || mrows[0]["CONSUMER-ID"] != memberID || mrows[0]["CLIENT-ID"] != consumerID ||
		mrows[0]["#PARTITIONS"] != "3" || mrows[0]["ASSIGNMENT"] != wantAssign || mrows[0]["HOST"] == "" {
		t.Fatalf("describe --members --verbose:\n%s", out)
	}
	if out := mustRun(t, f.brokers, "describe", group, "--members"); strings.Contains(out, "ASSIGNMENT") {
		t.Fatalf("ASSIGNMENT without --verbose:\n%s", out)
	}

	// --state.
	out = mustRun(t, f.brokers, "describe", group, "--state")
	srows := tableRows(t, out)
	if len(srows) != 1 || srows[0]["STATE"] != "Stable" || srows[0]["#MEMBERS"] != "1" ||
		srows[0]["ASSIGNMENT-STRATEGY"] == "-" || !regexp.MustCompile(`^\S+:\d+ \(\d+\)$`).MatchString(srows[0]["COORDINATOR (ID)"]) {
		t.Fatalf("describe --state:\n%s", out)
	}

	// An active group can be neither reset nor deleted.
	r := mustFail(t, f.brokers, "reset-offsets", group, "--topic", f.topic, "--to-earliest", "--execute")
	if !strings.Contains(r.err.Error(), "Stable") || !strings.Contains(r.err.Error(), "inactive") {
		t.Fatalf("reset of an active group: %v", r.err)
	}
	if got := committed(t, adm, group, f.topic); got[0] != 4 || got[1] != perPartition || len(got) != 2 {
		t.Fatalf("refused reset changed the offsets: %v", got)
	}
	r = mustFail(t, f.brokers, "delete", group)
	if !strings.Contains(r.stdout, "NON_EMPTY_GROUP") {
		t.Fatalf("delete of an active group:\n%s", r.stdout)
	}

	// The member leaves: the group is Empty and keeps its commits.
	member.Close()
	waitFor(t, "group to become Empty", func() bool { return stateOf(t, adm, group) == "Empty" })
	r = run(t, f.brokers, "describe", group)
	if r.err != nil || !strings.Contains(r.stderr, "has no active members") {
		t.Fatalf("describe of an empty group: %v\nstderr: %s", r.err, r.stderr)
	}
	parts = byPartition(tableRows(t, r.stdout))
	if len(parts) != 2 || parts["0"]["CONSUMER-ID"] != "-" || parts["0"]["LAG"] != "6" || parts["1"]["HOST"] != "-" || parts["2"] != nil {
		t.Fatalf("describe of an empty group:\n%s", r.stdout)
	}

	// Dry run by default: prints the plan, commits nothing.
	out = mustRun(t, f.brokers, "reset-offsets", group, "--topic", f.topic, "--to-earliest")
	plan := tableRows(t, out)
	if len(plan) != numPartitions || !strings.Contains(out, "Dry run") {
		t.Fatalf("dry run:\n%s", out)
	}
	for i, row := range plan {
		if row["GROUP"] != group || row["TOPIC"] != f.topic || row["PARTITION"] != fmt.Sprint(i) || row["NEW-OFFSET"] != "0" {
			t.Fatalf("dry run row %d: %v\n%s", i, row, out)
		}
	}
	if got := committed(t, adm, group, f.topic); got[0] != 4 || got[1] != perPartition || len(got) != 2 {
		t.Fatalf("dry run changed the offsets: %v", got)
	}

	// --execute commits; then each scenario on its own.
	steps := []struct {
		args []string
		want map[int32]int64
		warn bool
	}{
		{[]string{"--topic", f.topic, "--to-earliest"}, map[int32]int64{0: 0, 1: 0, 2: 0}, false},
		{[]string{"--topic", f.topic + ":1", "--to-offset", "7"}, map[int32]int64{0: 0, 1: 7, 2: 0}, false},
		{[]string{"--topic", f.topic + ":1", "--shift-by", "-2"}, map[int32]int64{0: 0, 1: 5, 2: 0}, false},
		{[]string{"--topic", f.topic + ":1,2", "--shift-by", "100"}, map[int32]int64{0: 0, 1: 10, 2: 10}, true},
		{[]string{"--all-topics", "--to-datetime", f.base.Add(5 * time.Second).UTC().Format(time.RFC3339)}, map[int32]int64{0: 5, 1: 5, 2: 5}, false},
		{[]string{"--all-topics", "--to-datetime", fmt.Sprint(f.base.Add(2500 * time.Millisecond).UnixMilli())}, map[int32]int64{0: 3, 1: 3, 2: 3}, false},
		{[]string{"--topic", f.topic + ":0", "--to-latest"}, map[int32]int64{0: 10, 1: 3, 2: 3}, false},
	}
	for _, s := range steps {
		r := run(t, f.brokers, append([]string{"reset-offsets", group, "--execute"}, s.args...)...)
		if r.err != nil {
			t.Fatalf("reset-offsets %v: %v\n%s", s.args, r.err, r.stderr)
		}
		if strings.Contains(r.stdout, "Dry run") {
			t.Fatalf("reset-offsets --execute %v says dry run:\n%s", s.args, r.stdout)
		}
		if s.warn != strings.Contains(r.stderr, "higher than the latest offset") {
			t.Fatalf("reset-offsets %v: warning %v expected, stderr:\n%s", s.args, s.warn, r.stderr)
		}
		if got := committed(t, adm, group, f.topic); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Fatalf("after reset-offsets %v: committed %v, want %v", s.args, got, s.want)
		}
	}

	// JSON: the plan and whether it was a dry run.
	var res struct {
		Group   string `json:"group"`
		DryRun  bool   `json:"dry_run"`
		Offsets []struct {
			Partition      int32  `json:"partition"`
			PreviousOffset *int64 `json:"previous_offset"`
			NewOffset      int64  `json:"new_offset"`
		} `json:"offsets"`
	}
	r = run(t, f.brokers, "reset-offsets", group, "--all-topics", "--shift-by", "-1", "--format", "json")
	if r.err != nil || !strings.Contains(r.stderr, "Dry run") {
		t.Fatalf("json dry run: %v\nstderr: %s", r.err, r.stderr)
	}
	decodeJSON(t, r.stdout, &res)
	if res.Group != group || !res.DryRun || len(res.Offsets) != numPartitions ||
		res.Offsets[0].PreviousOffset == nil || *res.Offsets[0].PreviousOffset != 10 || res.Offsets[0].NewOffset != 9 || res.Offsets[1].NewOffset != 2 {
		t.Fatalf("json dry run: %s", r.stdout)
	}

	// delete: OK once, then GROUP_ID_NOT_FOUND; describe says it is gone.
	out = mustRun(t, f.brokers, "delete", group)
	if drows := tableRows(t, out); len(drows) != 1 || drows[0]["GROUP"] != group || drows[0]["STATUS"] != "OK" {
		t.Fatalf("delete:\n%s", out)
	}
	if out := mustRun(t, f.brokers, "list"); strings.Contains(out, group) {
		t.Fatalf("deleted group still listed:\n%s", out)
	}
	r = mustFail(t, f.brokers, "describe", group)
	if !strings.Contains(r.err.Error(), "does not exist") {
		t.Fatalf("describe of a deleted group: %v", r.err)
	}
	r = mustFail(t, f.brokers, "delete", group)
	if !strings.Contains(r.stdout, "GROUP_ID_NOT_FOUND") || !strings.Contains(r.err.Error(), "1 of 1 groups failed") {
		t.Fatalf("second delete: %v\n%s", r.err, r.stdout)
	}
}

// A group that does not exist yet can be given offsets before its first
// consumer starts, as with Kafka's tool.
func TestResetOffsetsOfNewGroup(t *testing.T) {
	f := newFixture(t)
	adm := newAdmin(t, f.brokers)
	group := uniqueName(t, "new")

	r := mustFail(t, f.brokers, "reset-offsets", group, "--all-topics", "--to-earliest", "--execute")
	if !strings.Contains(r.err.Error(), "no committed offsets") {
		t.Fatalf("--all-topics on a new group: %v", r.err)
	}
	r = mustFail(t, f.brokers, "reset-offsets", group, "--topic", f.topic+":7", "--to-earliest")
	if !strings.Contains(r.err.Error(), "does not exist") {
		t.Fatalf("missing partition: %v", r.err)
	}
	r = mustFail(t, f.brokers, "reset-offsets", group, "--topic", f.topic+"-missing", "--to-earliest")
	if !strings.Contains(r.err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("missing topic: %v", r.err)
	}

	mustRun(t, f.brokers, "reset-offsets", group, "--topic", f.topic+":0,2", "--to-offset", "3", "--execute")
	if got := committed(t, adm, group, f.topic); fmt.Sprint(got) != fmt.Sprint(map[int32]int64{0: 3, 2: 3}) {
		t.Fatalf("committed %v", got)
	}
	r = run(t, f.brokers, "describe", group, "--format", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var lags []struct {
		State    string `json:"state"`
		TotalLag int64  `json:"total_lag"`
	}
	decodeJSON(t, r.stdout, &lags)
	if len(lags) != 1 || lags[0].State != "Empty" || lags[0].TotalLag != 14 {
		t.Fatalf("describe after reset: %s", r.stdout)
	}
	if out := mustRun(t, f.brokers, "describe", group, "--state"); !strings.Contains(out, "Empty") {
		t.Fatalf("describe --state:\n%s", out)
	}

	// A missing group among others: the others print, the command fails.
	missingGroup := uniqueName(t, "missing")
	r = mustFail(t, f.brokers, "describe", group, missingGroup)
	if len(tableRows(t, r.stdout)) != 2 || !strings.Contains(r.err.Error(), missingGroup) || strings.Contains(r.err.Error(), group+`"`) {
		t.Fatalf("describe with a missing group: %v\n%s", r.err, r.stdout)
	}
}

// TestEveryCommandHasExamples: every verb has Long help with examples and
// returns errors instead of exiting.
func TestEveryCommandHasExamples(t *testing.T) {
	root := NewCommand()
	var verbs []string
	for _, c := range append([]*cobra.Command{root}, root.Commands()...) {
		if !strings.Contains(c.Long, "Examples:") {
			t.Errorf("%s: Long help has no examples", c.CommandPath())
		}
		if c.Run != nil || c.RunE == nil {
			t.Errorf("%s: must use RunE", c.CommandPath())
		}
		verbs = append(verbs, c.Name())
	}
	if got := strings.Join(verbs, " "); got != "group delete describe list reset-offsets" {
		t.Fatalf("verbs: %s", got)
	}
}

// Flag mistakes fail before anything is sent (the broker address is never
// dialled).
func TestFlagErrors(t *testing.T) {
	const nowhere = "127.0.0.1:1"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no scenario", []string{"reset-offsets", "g", "--topic", "t"}, "say where to move"},
		{"two scenarios", []string{"reset-offsets", "g", "--topic", "t", "--to-earliest", "--shift-by", "1"}, "only one of --to-earliest, --shift-by"},
		{"no scope", []string{"reset-offsets", "g", "--to-earliest"}, "--topic T[:P,...] or --all-topics"},
		{"both scopes", []string{"reset-offsets", "g", "--topic", "t", "--all-topics", "--to-earliest"}, "not both"},
		{"bad partition", []string{"reset-offsets", "g", "--topic", "t:x", "--to-earliest"}, "not a partition number"},
		{"negative offset", []string{"reset-offsets", "g", "--topic", "t", "--to-offset", "-1"}, "must not be negative"},
		{"bad datetime", []string{"reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday"}, "--to-datetime"},
		{"execute and dry run", []string{"reset-offsets", "g", "--topic", "t", "--to-earliest", "--execute", "--dry-run"}, "contradict"},
		{"two groups", []string{"reset-offsets", "g", "h", "--topic", "t", "--to-earliest"}, "accepts 1 arg"},
		{"two views", []string{"describe", "g", "--members", "--state"}, "different views"},
		{"bad state", []string{"list", "--state", "Sleeping"}, "unknown group state"},
		{"describe nothing", []string{"describe"}, "requires at least 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustFail(t, nowhere, tc.args...)
			if !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", r.err, tc.want)
			}
		})
	}
}
