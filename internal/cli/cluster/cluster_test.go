package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// onBroker0 places every partition on broker 0.
func onBroker0(int32) int32 { return 0 }

// outcomeJSON is the part of the JSON outcome the tests read.
type outcomeJSON struct {
	Operation string `json:"operation"`
	Node      *int32 `json:"node"`
	DryRun    bool   `json:"dry_run"`
	Moves     []struct {
		Topic           string  `json:"topic"`
		Partition       int32   `json:"partition"`
		CurrentReplicas []int32 `json:"current_replicas"`
		TargetReplicas  []int32 `json:"target_replicas"`
	} `json:"moves"`
	Brokers []struct {
		ID             int32 `json:"id"`
		Replicas       int   `json:"replicas"`
		TargetReplicas int   `json:"target_replicas"`
	} `json:"brokers"`
	Submitted    int               `json:"submitted"`
	Rejected     []partitionStatus `json:"rejected"`
	Completed    bool              `json:"completed"`
	Elections    []partitionStatus `json:"elections"`
	Unregistered *bool             `json:"unregistered"`
	Notes        []string          `json:"notes"`
}

func TestRebalanceDryRun(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 6, 1, onBroker0)
	r := mustRun(t, f.addrs, "rebalance", "--dry-run", "--topics", topic)

	plan := tableRows(t, section(t, r.stdout, "PLAN"))
	if len(plan) != 4 {
		t.Fatalf("plan has %d rows, want 4 (6 replicas on broker 0 → 2 each):\n%s", len(plan), r.stdout)
	}
	for _, row := range plan {
		if row["TOPIC"] != topic || row["CURRENT-REPLICAS"] != "[0]" || row["TARGET-REPLICAS"] == "[0]" {
			t.Errorf("plan row %v", row)
		}
	}
	for _, b := range tableRows(t, section(t, r.stdout, "BROKERS")) {
		if b["TARGET-REPLICAS"] != "2" || b["TARGET-LEADERS"] != "2" {
			t.Errorf("broker row %v, want 2 replicas and 2 leaders after", b)
		}
	}
	if !strings.Contains(r.stdout, "Dry run: nothing was submitted") {
		t.Errorf("no dry-run line:\n%s", r.stdout)
	}
	if len(f.assigned()) != 0 {
		t.Fatalf("a dry run submitted %v", f.assigned())
	}

	var out outcomeJSON
	decodeJSON(t, mustRun(t, f.addrs, "rebalance", "--dry-run", "--topics", topic, "--format", "json").stdout, &out)
	if !out.DryRun || len(out.Moves) != 4 || out.Submitted != 0 || out.Completed || out.Node != nil {
		t.Fatalf("json outcome: %+v", out)
	}
}

func TestRebalanceSubmitsWaitsAndElects(t *testing.T) {
	old := maxPartitionsPerRequest
	maxPartitionsPerRequest = 3
	t.Cleanup(func() { maxPartitionsPerRequest = old })

	f := newFake(t)
	topic := f.topic(t, 6, 1, onBroker0)
	f.applyReassignments()
	f.answerElections()
	// The first two polls report two partitions still moving.
	f.listRunning(map[string][]int32{topic: {2, 3}}, 2, true)

	r := mustRun(t, f.addrs, "rebalance", "--topics", topic)
	if !strings.Contains(r.stdout, "Rebalance complete: 4 partitions reassigned, 4 replicas copied to new brokers.") {
		t.Errorf("no completion line:\n%s", r.stdout)
	}
	for _, want := range []string{"submitted 4 of 4", "waiting for 4 partition reassignments", "reassigning: 2/4 partitions done",
		"reassigning: 4/4 partitions done", "electing preferred leaders for 4 partitions"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	f.mu.Lock()
	chunks := len(f.alters)
	f.mu.Unlock()
	if chunks != 2 {
		t.Errorf("%d AlterPartitionReassignments requests, want 2 chunks of at most 3", chunks)
	}
	targets := f.assigned()[topic]
	if len(targets) != 4 {
		t.Fatalf("submitted %v", targets)
	}
	var moved []int32
	for p := range targets {
		moved = append(moved, p)
	}
	slices.Sort(moved)
	if got := f.elected(topic); !slices.Equal(got, moved) {
		t.Errorf("elected %v, want the moved partitions %v", got, moved)
	}
	load := map[int32]int{}
	for _, rs := range replicas(t, f.addrs, topic) {
		load[rs[0]]++
	}
	if load[0] != 2 || load[1] != 2 || load[2] != 2 {
		t.Errorf("replicas per broker after: %v", load)
	}

	// Balanced now: nothing to move, nothing submitted.
	before := len(f.assigned()[topic])
	var out outcomeJSON
	decodeJSON(t, mustRun(t, f.addrs, "rebalance", "--topics", topic, "--format", "json").stdout, &out)
	if len(out.Moves) != 0 || out.Submitted != 0 || len(f.assigned()[topic]) != before {
		t.Fatalf("second rebalance: %+v", out)
	}
}

// TestRebalanceCountsRunningReassignments: partitions already moving count
// at their targets and are waited for, but only the new moves are elected.
func TestRebalanceCountsRunningReassignments(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 6, 1, onBroker0)
	f.applyReassignments()
	f.answerElections()
	// Partitions 0 and 1 are moving from broker 0 to broker 1 until the
	// command has polled once.
	f.listRunning(map[string][]int32{topic: {0, 1}}, 2, false)
	r := mustRun(t, f.addrs, "rebalance", "--topics", topic)
	for _, want := range []string{"2 partition reassignments are already in progress", "submitted 2 of 2",
		"waiting for 4 partition reassignments", "reassigning: 4/4", "electing preferred leaders for 2 partitions"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for p, target := range f.assigned()[topic] {
		if p < 2 || !slices.Equal(target, []int32{2}) {
			t.Errorf("partition %d sent to %v; want only new moves, to broker 2", p, target)
		}
	}
}

func TestRebalanceJSONOutcome(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 3, 1, onBroker0)
	f.applyReassignments()
	f.answerElections()
	var out outcomeJSON
	r := mustRun(t, f.addrs, "rebalance", "--topics", topic, "--format", "json")
	decodeJSON(t, r.stdout, &out)
	if out.Operation != "rebalance" || out.Submitted != 2 || !out.Completed || len(out.Elections) != 2 || len(out.Rejected) != 0 {
		t.Fatalf("outcome: %+v", out)
	}
	for _, e := range out.Elections {
		if e.Status != "OK" {
			t.Errorf("election %+v", e)
		}
	}
	if !strings.Contains(r.stderr, "reassigning: 2/2") {
		t.Errorf("progress goes to stderr in every format:\n%s", r.stderr)
	}
}

func TestRebalanceRejected(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 6, 1, onBroker0)
	f.answerElections()
	f.c.ControlKey(int16(kmsg.AlterPartitionAssignments), func(r kmsg.Request) (kmsg.Response, error, bool) {
		req := r.(*kmsg.AlterPartitionAssignmentsRequest)
		resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		for i, rt := range req.Topics {
			st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			st.Topic = rt.Topic
			for j, rp := range rt.Partitions {
				sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				sp.Partition = rp.Partition
				if i == 0 && j == 0 {
					sp.ErrorCode = kerr.ReassignmentInProgress.Code
					sp.ErrorMessage = kmsg.StringPtr("busy moving")
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	r := mustFail(t, f.addrs, "rebalance", "--topics", topic)
	if !strings.Contains(r.err.Error(), "rejected 1 of 4 partition reassignments") || !strings.Contains(r.err.Error(), "REASSIGNMENT_IN_PROGRESS") {
		t.Fatalf("error: %v", r.err)
	}
	rows := tableRows(t, section(t, r.stdout, "REJECTED"))
	if len(rows) != 1 || rows[0]["STATUS"] != "REASSIGNMENT_IN_PROGRESS: busy moving" {
		t.Fatalf("rejected rows %v\n%s", rows, r.stdout)
	}
	// The accepted ones were waited for and elected.
	if got := f.elected(topic); len(got) != 3 {
		t.Fatalf("elected %v, want the 3 accepted partitions", got)
	}
}

func TestRebalanceTimeout(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 3, 1, onBroker0)
	f.listRunning(map[string][]int32{topic: {0, 1, 2}}, 1<<30, true)
	r := mustFail(t, f.addrs, "rebalance", "--topics", topic, "--timeout", "200ms")
	for _, want := range []string{"timed out after 200ms", "still running", "samsa cluster reassignments"} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, r.err)
		}
	}
	if len(f.elected(topic)) != 0 {
		t.Errorf("elected leaders before the reassignments completed")
	}
}

func TestRebalanceNoWait(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 3, 1, onBroker0)
	f.listRunning(map[string][]int32{topic: {0, 1, 2}}, 1<<30, true)
	r := mustRun(t, f.addrs, "rebalance", "--topics", topic, "--wait=false")
	if !strings.Contains(r.stdout, "Submitted 2 partition reassignments") || !strings.Contains(r.stdout, "samsa cluster elect-leaders") {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	if len(f.assigned()[topic]) != 2 || len(f.elected(topic)) != 0 {
		t.Fatalf("assigned %v, elected %v", f.assigned(), f.elected(topic))
	}
}

func TestRebalanceBadInput(t *testing.T) {
	f := newFake(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rebalance", "--topics", "no-such-topic"}, `topic "no-such-topic" does not exist`},
		{[]string{"rebalance", "--topics", "a,,b"}, "empty topic name"},
		{[]string{"rebalance", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"decommission", "x"}, `node id "x"`},
		{[]string{"decommission", "-1"}, "unknown shorthand flag"},
		{[]string{"decommission"}, "accepts 1 arg"},
		{[]string{"elect-leaders", "--type", "dirty"}, `--type "dirty"`},
		{[]string{"elect-leaders", "--partition", "1"}, "--partition needs --topic"},
		{[]string{"elect-leaders", "--topic", "no-such-topic"}, "UNKNOWN_TOPIC_OR_PARTITION"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := mustFail(t, f.addrs, tc.args...)
			if !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", r.err, tc.want)
			}
		})
	}
}

func TestDecommission(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 6, 1, func(p int32) int32 { return p % 3 })
	f.applyReassignments()
	f.answerElections()
	f.serveUnregister(t, 0)

	r := mustRun(t, f.addrs, "decommission", "2")
	rows := tableRows(t, section(t, r.stdout, "PLAN"))
	var mine []map[string]string
	for _, row := range rows {
		if row["TOPIC"] == topic {
			mine = append(mine, row)
		}
	}
	if len(mine) != 2 {
		t.Fatalf("plan for %s: %v\n%s", topic, mine, r.stdout)
	}
	for _, row := range mine {
		if row["CURRENT-REPLICAS"] != "[2]" || row["TARGET-REPLICAS"] == "[2]" {
			t.Errorf("plan row %v", row)
		}
	}
	if !strings.Contains(r.stdout, "Broker 2 holds no replicas and was unregistered: it can be stopped now.") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	for p, rs := range replicas(t, f.addrs, topic) {
		if slices.Contains(rs, 2) {
			t.Errorf("partition %d still on broker 2: %v", p, rs)
		}
	}
	f.mu.Lock()
	unreg := slices.Clone(f.unregistered)
	f.mu.Unlock()
	if !slices.Equal(unreg, []int32{2}) {
		t.Fatalf("UnregisterBroker requests for %v, want [2]", unreg)
	}

	// Again: nothing to move, the broker is only unregistered (the fake
	// still lists broker 2 as live).
	var out outcomeJSON
	decodeJSON(t, mustRun(t, f.addrs, "decommission", "2", "--format", "json").stdout, &out)
	if out.Operation != "decommission" || out.Node == nil || *out.Node != 2 || len(out.Moves) != 0 || out.Unregistered == nil || !*out.Unregistered {
		t.Fatalf("second decommission: %+v", out)
	}
}

func TestDecommissionWithoutUnregisterBroker(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 3, 1, func(p int32) int32 { return p % 3 })
	f.applyReassignments()
	f.answerElections()
	var out outcomeJSON
	r := mustRun(t, f.addrs, "decommission", "1", "--format", "json")
	decodeJSON(t, r.stdout, &out)
	if out.Unregistered == nil || *out.Unregistered || !out.Completed || out.Submitted != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if !strings.Contains(r.stderr, "does not support UnregisterBroker") {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
	if got := f.elected(topic); len(got) != 1 {
		t.Fatalf("elected %v", got)
	}
}

func TestDecommissionErrors(t *testing.T) {
	t.Run("replication factor cannot be kept", func(t *testing.T) {
		f := newFake(t)
		f.topic(t, 2, 3, nil)
		r := mustFail(t, f.addrs, "decommission", "0")
		if !strings.Contains(r.err.Error(), "add a broker first") || len(f.assigned()) != 0 {
			t.Fatalf("error %v, submitted %v", r.err, f.assigned())
		}
	})
	t.Run("unknown broker", func(t *testing.T) {
		f := newFake(t)
		r := mustFail(t, f.addrs, "decommission", "7")
		if !strings.Contains(r.err.Error(), "not a live broker and holds no replicas") {
			t.Fatalf("error %v", r.err)
		}
	})
	t.Run("not registered", func(t *testing.T) {
		f := newFake(t)
		f.serveUnregister(t, kerr.BrokerIDNotRegistered.Code)
		r := mustFail(t, f.addrs, "decommission", "7")
		if !strings.Contains(r.err.Error(), "not registered") {
			t.Fatalf("error %v", r.err)
		}
	})
	t.Run("unregister fails", func(t *testing.T) {
		f := newFake(t)
		f.serveUnregister(t, kerr.ClusterAuthorizationFailed.Code)
		r := mustFail(t, f.addrs, "decommission", "1")
		if !strings.Contains(r.err.Error(), "unregistering it failed") || !strings.Contains(r.err.Error(), "ALTER on the cluster") {
			t.Fatalf("error %v", r.err)
		}
	})
	t.Run("still holds replicas", func(t *testing.T) {
		old := drainCheckTimeout
		drainCheckTimeout = 100 * time.Millisecond
		t.Cleanup(func() { drainCheckTimeout = old })
		f := newFake(t)
		topic := f.topic(t, 3, 1, func(p int32) int32 { return p % 3 })
		f.answerElections() // reassignments are accepted but not carried out
		r := mustFail(t, f.addrs, "decommission", "2")
		if !strings.Contains(r.err.Error(), fmt.Sprintf("still holds replicas of [%s-2]", topic)) {
			t.Fatalf("error %v", r.err)
		}
	})
}

func TestDecommissionNoWait(t *testing.T) {
	f := newFake(t)
	f.topic(t, 3, 1, func(p int32) int32 { return p % 3 })
	f.serveUnregister(t, 0)
	r := mustRun(t, f.addrs, "decommission", "2", "--wait=false")
	if !strings.Contains(r.stdout, "run `samsa cluster decommission 2` again") {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.unregistered) != 0 {
		t.Fatal("unregistered before the reassignments completed")
	}
}

func TestReassignments(t *testing.T) {
	f := newFake(t)
	r := mustRun(t, f.addrs, "reassignments")
	if strings.TrimSpace(r.stdout) != "TOPIC  PARTITION  REPLICAS  ADDING  REMOVING" {
		t.Fatalf("empty list:\n%q", r.stdout)
	}
	f.listRunning(map[string][]int32{"a": {1, 0}, "b": {2}}, 2, false)
	rows := tableRows(t, mustRun(t, f.addrs, "reassignments").stdout)
	want := []map[string]string{
		{"TOPIC": "a", "PARTITION": "0", "REPLICAS": "[0 1]", "ADDING": "[1]", "REMOVING": "[0]"},
		{"TOPIC": "a", "PARTITION": "1", "REPLICAS": "[0 1]", "ADDING": "[1]", "REMOVING": "[0]"},
		{"TOPIC": "b", "PARTITION": "2", "REPLICAS": "[0 1]", "ADDING": "[1]", "REMOVING": "[0]"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", rows, want)
	}
	var js []reassignmentRow
	decodeJSON(t, mustRun(t, f.addrs, "reassignments", "b", "--format", "json").stdout, &js)
	if len(js) != 1 || js[0].Topic != "b" || js[0].Partition != 2 {
		t.Fatalf("json %+v", js)
	}
}

func TestElectLeaders(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 3, 1, nil)

	rows := tableRows(t, mustRun(t, f.addrs, "elect-leaders", "--topic", topic).stdout)
	if len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	for i, row := range rows {
		if row["TOPIC"] != topic || row["PARTITION"] != fmt.Sprint(i) || row["STATUS"] != "OK" {
			t.Errorf("row %v", row)
		}
	}

	var js []partitionStatus
	decodeJSON(t, mustRun(t, f.addrs, "elect-leaders", "--topic", topic, "--partition", "1", "--type", "unclean", "--format", "json").stdout, &js)
	if len(js) != 1 || js[0].Partition != 1 || js[0].Status != "OK" {
		t.Fatalf("json %+v", js)
	}
	f.mu.Lock()
	last := f.elections[len(f.elections)-1]
	f.mu.Unlock()
	if last.ElectionType != 1 {
		t.Fatalf("--type unclean sent election type %d", last.ElectionType)
	}

	// All partitions: the request names no topics.
	mustRun(t, f.addrs, "elect-leaders")
	f.mu.Lock()
	last = f.elections[len(f.elections)-1]
	f.mu.Unlock()
	if last.Topics != nil || last.ElectionType != 0 {
		t.Fatalf("elect all sent topics %v type %d", last.Topics, last.ElectionType)
	}
}

func TestElectLeadersFailures(t *testing.T) {
	f := newFake(t)
	topic := f.topic(t, 2, 1, nil)
	f.c.ControlKey(int16(kmsg.ElectLeaders), func(r kmsg.Request) (kmsg.Response, error, bool) {
		f.c.KeepControl()
		req := r.(*kmsg.ElectLeadersRequest)
		resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewElectLeadersResponseTopicPartition()
				rp.Partition = p
				rp.ErrorCode = kerr.ElectionNotNeeded.Code
				if p == 1 {
					rp.ErrorCode = kerr.PreferredLeaderNotAvailable.Code
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	r := mustFail(t, f.addrs, "elect-leaders", "--topic", topic)
	if !strings.Contains(r.err.Error(), "1 of 2 partitions failed") || !strings.Contains(r.err.Error(), topic+"-1 (PREFERRED_LEADER_NOT_AVAILABLE)") {
		t.Fatalf("error %v", r.err)
	}
	rows := tableRows(t, r.stdout)
	if !strings.HasPrefix(rows[0]["STATUS"], "ELECTION_NOT_NEEDED") || !strings.HasPrefix(rows[1]["STATUS"], "PREFERRED_LEADER_NOT_AVAILABLE") {
		t.Fatalf("rows %v", rows)
	}
	// Only ELECTION_NOT_NEEDED: success.
	mustRun(t, f.addrs, "elect-leaders", "--topic", topic, "--partition", "0")
}
