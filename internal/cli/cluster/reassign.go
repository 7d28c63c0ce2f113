package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streaming/samsa/internal/cli/cluster/plan"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// pollInterval is how often a waiting command asks which reassignments are
// still running. Tests shorten it.
var pollInterval = time.Second

// maxPartitionsPerRequest bounds the partitions of one
// AlterPartitionReassignments or ElectLeaders request; a larger plan is
// sent in chunks. Tests lower it.
var maxPartitionsPerRequest = 500

// DefaultWaitTimeout is how long rebalance and decommission wait for their
// reassignments by default (--timeout).
const DefaultWaitTimeout = 10 * time.Minute

// moveRow is one row of the PLAN table.
type moveRow struct {
	Topic           string  `json:"topic"`
	Partition       int32   `json:"partition"`
	CurrentReplicas []int32 `json:"current_replicas"`
	TargetReplicas  []int32 `json:"target_replicas"`
}

// brokerRow is one row of the BROKERS table: a live broker's replica and
// preferred-leader counts before and after the plan.
type brokerRow struct {
	ID             int32   `json:"id"`
	Rack           *string `json:"rack"`
	Replicas       int     `json:"replicas"`
	TargetReplicas int     `json:"target_replicas"`
	Leaders        int     `json:"leaders"`
	TargetLeaders  int     `json:"target_leaders"`
}

// outcome is the result of rebalance and decommission, printed whole with
// --format json|yaml once the command is done.
type outcome struct {
	// Operation is "rebalance" or "decommission".
	Operation string `json:"operation"`
	// Node is the drained broker (decommission only, else null).
	Node   *int32    `json:"node"`
	DryRun bool      `json:"dry_run"`
	Moves  []moveRow `json:"moves"`
	// Brokers are the live brokers' loads before and after the plan.
	Brokers []brokerRow `json:"brokers"`
	// InProgress counts the reassignments already running when the
	// command started (the plan counts them at their targets).
	InProgress int `json:"in_progress"`
	// Submitted counts the partition reassignments the cluster accepted.
	Submitted int `json:"submitted"`
	// Rejected are the partition reassignments the cluster refused.
	Rejected []partitionStatus `json:"rejected"`
	// Completed is true once every reassignment waited for finished.
	Completed bool `json:"completed"`
	// Elections are the per-partition results of the preferred leader
	// election run after completion.
	Elections []partitionStatus `json:"elections"`
	// Unregistered tells whether the drained broker was unregistered
	// (decommission only, else null).
	Unregistered *bool `json:"unregistered"`
	// Notes are warnings also printed on stderr.
	Notes []string `json:"notes"`
}

// flowOptions are the flags shared by rebalance and decommission.
type flowOptions struct {
	dryRun  bool
	wait    bool
	timeout time.Duration
	out     format.Format
}

// flow carries a plan from print to completion: submit it in chunks, wait
// for the reassignments, elect the preferred leaders. Text goes to stdout
// as it happens, progress and warnings to stderr; the machine formats print
// res once, at the end (see finish).
type flow struct {
	s      *session
	opts   flowOptions
	stdout io.Writer
	stderr io.Writer
	res    outcome
	moves  []plan.Move
}

func newFlow(s *session, opts flowOptions, stdout, stderr io.Writer, op string, st clusterState, moves []plan.Move) *flow {
	f := &flow{s: s, opts: opts, stdout: stdout, stderr: stderr, moves: moves}
	f.res = outcome{
		Operation:  op,
		DryRun:     opts.dryRun,
		Moves:      make([]moveRow, 0, len(moves)),
		InProgress: st.ongoing.count(),
		Rejected:   []partitionStatus{},
		Elections:  []partitionStatus{},
		Notes:      []string{},
	}
	for _, m := range moves {
		f.res.Moves = append(f.res.Moves, moveRow{Topic: m.Topic, Partition: m.Partition, CurrentReplicas: m.Current, TargetReplicas: m.Target})
	}
	before := plan.Loads(st.brokers, st.assignment)
	after := plan.Loads(st.brokers, st.assignment.Apply(moves))
	f.res.Brokers = make([]brokerRow, len(before))
	for i, b := range before {
		var rack *string
		if b.Rack != "" {
			rack = &b.Rack
		}
		f.res.Brokers[i] = brokerRow{ID: b.ID, Rack: rack, Replicas: b.Replicas, TargetReplicas: after[i].Replicas, Leaders: b.Leaders, TargetLeaders: after[i].Leaders}
	}
	return f
}

func (f *flow) text() bool { return f.opts.out == format.Text || f.opts.out == "" }

// say writes a line of the text output; the machine formats skip it.
func (f *flow) say(format string, args ...any) {
	if f.text() {
		fmt.Fprintf(f.stdout, format+"\n", args...)
	}
}

// progress writes a progress line to stderr, in every format.
func (f *flow) progress(format string, args ...any) {
	fmt.Fprintf(f.stderr, format+"\n", args...)
}

// note records a warning and prints it on stderr.
func (f *flow) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.res.Notes = append(f.res.Notes, msg)
	fmt.Fprintln(f.stderr, "warning: "+msg)
}

// printPlan writes the PLAN and BROKERS sections (text only); empty says
// why there is nothing to move.
func (f *flow) printPlan(empty string) error {
	if !f.text() {
		return nil
	}
	w := f.stdout
	format.Section(w, "PLAN", true)
	if len(f.moves) == 0 {
		fmt.Fprintln(w, empty)
	} else {
		t := format.NewTable("TOPIC", "PARTITION", "CURRENT-REPLICAS", "TARGET-REPLICAS")
		for _, m := range f.res.Moves {
			t.Row(m.Topic, m.Partition, m.CurrentReplicas, m.TargetReplicas)
		}
		if err := t.Write(w); err != nil {
			return err
		}
	}
	format.Section(w, "BROKERS", false)
	t := format.NewTable("ID", "RACK", "REPLICAS", "TARGET-REPLICAS", "LEADERS", "TARGET-LEADERS")
	for _, b := range f.res.Brokers {
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		t.Row(b.ID, rack, b.Replicas, b.TargetReplicas, b.Leaders, b.TargetLeaders)
	}
	if err := t.Write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

// finish prints the outcome in the machine formats and passes err on.
func (f *flow) finish(err error) error {
	if !f.text() {
		if perr := format.Print(f.stdout, f.opts.out, f.res, nil); perr != nil {
			return errors.Join(err, perr)
		}
	}
	return err
}

// submit sends the plan with AlterPartitionReassignments in chunks and
// returns the moves the cluster accepted. Refused partitions land in
// res.Rejected (and a REJECTED table); a failed request stops the command.
func (f *flow) submit(ctx context.Context) ([]plan.Move, error) {
	if len(f.moves) == 0 {
		return nil, nil
	}
	var accepted []plan.Move
	for start := 0; start < len(f.moves); start += maxPartitionsPerRequest {
		chunk := f.moves[start:min(start+maxPartitionsPerRequest, len(f.moves))]
		var req kadm.AlterPartitionAssignmentsReq
		for _, m := range chunk {
			req.Assign(m.Topic, m.Partition, m.Target)
		}
		rctx, cancel := f.s.request(ctx)
		resps, err := f.s.adm.AlterPartitionAssignments(rctx, req)
		cancel()
		if err != nil {
			if len(accepted) > 0 {
				f.note("%d partition reassignments were submitted before the failure; they go on: see `samsa cluster reassignments`", len(accepted))
			}
			return accepted, fmt.Errorf("alter partition reassignments (Kafka API 45): %w%s", err, authHint(err))
		}
		for _, m := range chunk {
			r, ok := resps[m.Topic][m.Partition]
			switch {
			case !ok:
				f.res.Rejected = append(f.res.Rejected, partitionStatus{Topic: m.Topic, Partition: m.Partition,
					Status: "NO_RESPONSE", Message: "the cluster did not answer for this partition"})
			case r.Err != nil:
				f.res.Rejected = append(f.res.Rejected, newPartitionStatus(m.Topic, m.Partition, r.Err, r.ErrMessage))
			default:
				accepted = append(accepted, m)
			}
		}
	}
	f.res.Submitted = len(accepted)
	f.progress("submitted %d of %d partition reassignments", len(accepted), len(f.moves))
	if len(f.res.Rejected) > 0 && f.text() {
		format.Section(f.stdout, "REJECTED", true)
		if err := writeStatuses(f.stdout, f.res.Rejected); err != nil {
			return accepted, err
		}
		fmt.Fprintln(f.stdout)
	}
	return accepted, nil
}

// rejectedErr is the error a command returns when the cluster refused part
// of its plan, nil when it accepted all of it.
func (f *flow) rejectedErr() error {
	if len(f.res.Rejected) == 0 {
		return nil
	}
	return fmt.Errorf("%s: the cluster rejected %d of %d partition reassignments: %s; fix the cause and run the command again",
		f.res.Operation, len(f.res.Rejected), len(f.moves), summarize(f.res.Rejected))
}

// partitionSet is a set of partitions by topic.
type partitionSet map[string]map[int32]bool

func (ps partitionSet) add(topic string, partition int32) {
	if ps[topic] == nil {
		ps[topic] = map[int32]bool{}
	}
	ps[topic][partition] = true
}

func (ps partitionSet) count() int {
	n := 0
	for _, p := range ps {
		n += len(p)
	}
	return n
}

func (ps partitionSet) topicsSet() kadm.TopicsSet {
	s := kadm.TopicsSet{}
	for t, p := range ps {
		s.Add(t, slices.Sorted(maps.Keys(p))...)
	}
	return s
}

// waitDone polls ListPartitionReassignments until no partition of set is
// being reassigned, printing progress on stderr, for at most --timeout.
// Failed polls (a controller failing over) are retried until then.
func (f *flow) waitDone(ctx context.Context, set partitionSet) error {
	total := set.count()
	if total == 0 {
		return nil
	}
	f.progress("waiting for %d partition reassignments to complete (timeout %v)", total, f.opts.timeout)
	wctx, cancel := context.WithTimeout(ctx, f.opts.timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	lastDone, remaining := -1, total
	var lastErr error
	for {
		n, err := f.remaining(wctx, set)
		switch {
		case err == nil:
			remaining, lastErr = n, nil
			if done := total - n; done != lastDone {
				f.progress("reassigning: %d/%d partitions done", done, total)
				lastDone = done
			}
			if n == 0 {
				return nil
			}
		case wctx.Err() == nil && (lastErr == nil || lastErr.Error() != err.Error()):
			f.progress("warning: %v (retrying)", err)
			lastErr = err
		}
		select {
		case <-wctx.Done():
			follow := "they go on in the cluster: follow them with `samsa cluster reassignments`"
			if ctx.Err() != nil {
				return fmt.Errorf("%s: interrupted with %d of %d partition reassignments still running; %s", f.res.Operation, remaining, total, follow)
			}
			return fmt.Errorf("%s: timed out after %v with %d of %d partition reassignments still running; %s, or wait longer with --timeout",
				f.res.Operation, f.opts.timeout, remaining, total, follow)
		case <-tick.C:
		}
	}
}

// remaining counts the partitions of set still being reassigned.
func (f *flow) remaining(ctx context.Context, set partitionSet) (int, error) {
	rctx, cancel := f.s.request(ctx)
	defer cancel()
	resps, err := f.s.adm.ListPartitionReassignments(rctx, set.topicsSet())
	if err != nil {
		return 0, fmt.Errorf("list partition reassignments: %w", err)
	}
	n := 0
	resps.Each(func(r kadm.ListPartitionReassignmentsResponse) {
		if set[r.Topic][r.Partition] {
			n++
		}
	})
	return n, nil
}

// electPreferred runs a preferred leader election for the moved
// partitions, so that leadership follows the new first replicas. Failures
// are warnings: the controller moves leaders back to their preferred
// replicas on its own (auto.leader.rebalance.enable).
func (f *flow) electPreferred(ctx context.Context, moved []plan.Move) {
	if len(moved) == 0 {
		return
	}
	set := partitionSet{}
	for _, m := range moved {
		set.add(m.Topic, m.Partition)
	}
	f.progress("electing preferred leaders for %d partitions", set.count())
	rows, _, err := electLeaders(ctx, f.s, kadm.ElectPreferredReplica, set)
	f.res.Elections = append(f.res.Elections, rows...)
	switch {
	case err != nil:
		f.note("preferred leader election: %v; leaders move to their preferred replicas when the controller rebalances leadership, or run `samsa cluster elect-leaders`", err)
	case countFailed(rows) > 0:
		f.note("preferred leader election failed for %d partitions: %s; retry with `samsa cluster elect-leaders --topic TOPIC`",
			countFailed(rows), summarize(rows))
	}
}

// electLeaders sends ElectLeaders for set (every partition when set is
// nil), in chunks, and returns a row per partition the cluster answered for,
// sorted, with the election type the cluster ran (v0 brokers only run
// preferred elections).
func electLeaders(ctx context.Context, s *session, how kadm.ElectLeadersHow, set partitionSet) ([]partitionStatus, kadm.ElectLeadersHow, error) {
	var chunks []kadm.TopicsSet
	if set == nil {
		chunks = []kadm.TopicsSet{nil}
	} else {
		cur, n := kadm.TopicsSet{}, 0
		for _, t := range slices.Sorted(maps.Keys(set)) {
			for _, p := range slices.Sorted(maps.Keys(set[t])) {
				if n == maxPartitionsPerRequest {
					chunks, cur, n = append(chunks, cur), kadm.TopicsSet{}, 0
				}
				cur.Add(t, p)
				n++
			}
		}
		if n > 0 {
			chunks = append(chunks, cur)
		}
	}
	rows := []partitionStatus{}
	ran := how
	for _, c := range chunks {
		rctx, cancel := s.request(ctx)
		res, err := s.adm.ElectLeaders(rctx, how, c)
		cancel()
		if err != nil {
			return rows, ran, fmt.Errorf("elect leaders (Kafka API 43): %w%s", err, authHint(err))
		}
		for _, ps := range res {
			for _, r := range ps {
				ran = r.How
				rows = append(rows, newPartitionStatus(r.Topic, r.Partition, r.Err, r.ErrMessage))
			}
		}
	}
	slices.SortFunc(rows, func(x, y partitionStatus) int {
		if x.Topic != y.Topic {
			if x.Topic < y.Topic {
				return -1
			}
			return 1
		}
		return int(x.Partition) - int(y.Partition)
	})
	return rows, ran, nil
}

// run carries the plan out: nothing more for a dry run; submit; without
// --wait, say how to follow up; else wait and elect. waitAlso are
// partitions already being reassigned that the command must also wait for.
// It returns the moves the cluster accepted.
func (f *flow) run(ctx context.Context, waitAlso partitionSet, followUp string) ([]plan.Move, error) {
	if f.opts.dryRun {
		f.say("Dry run: nothing was submitted. Run the command again without --dry-run to apply the plan.")
		return nil, nil
	}
	accepted, err := f.submit(ctx)
	if err != nil {
		return accepted, err
	}
	if !f.opts.wait {
		if len(accepted) > 0 {
			f.say("Submitted %d partition reassignments. Follow them with `samsa cluster reassignments`; when none remain, %s.", len(accepted), followUp)
		}
		return accepted, f.rejectedErr()
	}
	set := partitionSet{}
	for _, m := range accepted {
		set.add(m.Topic, m.Partition)
	}
	for t, ps := range waitAlso {
		for p := range ps {
			set.add(t, p)
		}
	}
	if err := f.waitDone(ctx, set); err != nil {
		return accepted, err
	}
	f.res.Completed = true
	f.electPreferred(ctx, accepted)
	return accepted, nil
}
