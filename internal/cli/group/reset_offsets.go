package group

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// resetResult is the result of `group reset-offsets`.
type resetResult struct {
	Group string `json:"group"`
	// DryRun is true when nothing was committed (no --execute).
	DryRun  bool       `json:"dry_run"`
	Offsets []resetRow `json:"offsets"`
}

// dryRunNote ends the output of a reset without --execute.
const dryRunNote = "Dry run: no offsets were committed. Run again with --execute to commit them."

func newResetOffsetsCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		topics          []string
		allTopics       bool
		sf              scenarioFlags
		toOffset, shift int64
		execute, dryRun bool
		out             format.Format
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP (--topic T[:P,...]... | --all-topics) SCENARIO [--execute]",
		Short: "Move a group's committed offsets (dry run unless --execute)",
		Long: `Move the committed offsets of an inactive consumer group (OffsetCommit).

Scope, one of:
  --topic T              every partition of topic T (repeatable)
  --topic T:0,2          partitions 0 and 2 of T
  --all-topics           every partition the group has committed offsets for
Scenario, one of:
  --to-earliest          the log start offset
  --to-latest            the log end offset (high watermark): skip everything
  --to-offset N          offset N
  --to-datetime T        the first record at or after T: unix milliseconds,
                         RFC 3339 (2024-05-01T12:00:00Z) or a local time
                         (2024-05-01T12:00:00.000); the log end offset when no
                         record is that new
  --by-duration D        the first record at or after now minus D (90m, 2h)
  --shift-by N           the committed offset plus N (N may be negative)
--to-offset and --shift-by are kept between the log start and end offsets.

Prints the plan: GROUP TOPIC PARTITION NEW-OFFSET. Without --execute this is
a dry run and nothing is committed (--dry-run says so explicitly). As in
Kafka, offsets can only be reset while the group has no members (state Empty,
or a group that does not exist yet): stop the group's consumers first.

Examples:
  samsa group reset-offsets audit --topic orders --to-earliest
  samsa group reset-offsets audit --topic orders --to-earliest --execute
  samsa group reset-offsets audit --topic orders:0,1 --shift-by -100 --execute
  samsa group reset-offsets audit --all-topics --to-datetime 2024-05-01T12:00:00Z --execute`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if fs.Changed("to-offset") {
				sf.offset = &toOffset
			}
			if fs.Changed("shift-by") {
				sf.shift = &shift
			}
			sc, err := sf.parse(time.Now(), time.Local)
			if err != nil {
				return err
			}
			scopes, err := parseScopes(topics, allTopics)
			if err != nil {
				return err
			}
			if execute && dryRun {
				return errors.New("--execute and --dry-run contradict each other")
			}
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				res, warnings, err := resetOffsets(ctx, adm, args[0], scopes, sc, execute)
				for _, w := range warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), "Warning: "+w)
				}
				if err != nil {
					return err
				}
				if res.DryRun && out != format.Text {
					fmt.Fprintln(cmd.ErrOrStderr(), dryRunNote)
				}
				err = format.Print(cmd.OutOrStdout(), out, res, func(w io.Writer) error {
					return writeReset(w, res)
				})
				if err != nil {
					return err
				}
				failed := 0
				for _, r := range res.Offsets {
					if r.Error != "" {
						failed++
					}
				}
				if failed > 0 {
					return fmt.Errorf("reset-offsets: %d of %d partitions were not committed", failed, len(res.Offsets))
				}
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&topics, "topic", nil, "topic to reset, TOPIC or TOPIC:P1,P2 (repeatable)")
	fs.BoolVar(&allTopics, "all-topics", false, "reset every partition the group has committed offsets for")
	fs.BoolVar(&sf.earliest, "to-earliest", false, "reset to the log start offset")
	fs.BoolVar(&sf.latest, "to-latest", false, "reset to the log end offset")
	fs.Int64Var(&toOffset, "to-offset", 0, "reset to this offset")
	fs.StringVar(&sf.datetime, "to-datetime", "", "reset to the first record at or after this time (unix ms or RFC 3339)")
	fs.StringVar(&sf.duration, "by-duration", "", "reset to the first record at or after now minus this duration")
	fs.Int64Var(&shift, "shift-by", 0, "move the committed offset by N (negative: back)")
	fs.BoolVar(&execute, "execute", false, "commit the new offsets (default: dry run)")
	fs.BoolVar(&dryRun, "dry-run", false, "only print the plan (the default)")
	format.AddFlag(fs, &out)
	return cmd
}

// parseScopes checks that exactly one of --topic and --all-topics is given;
// nil scopes mean --all-topics.
func parseScopes(topics []string, all bool) ([]topicScope, error) {
	switch {
	case all && len(topics) > 0:
		return nil, errors.New("give either --topic or --all-topics, not both")
	case all:
		return nil, nil
	case len(topics) == 0:
		return nil, errors.New("say which partitions to reset: --topic T[:P,...] or --all-topics")
	}
	scopes := make([]topicScope, 0, len(topics))
	for _, t := range topics {
		sc, err := parseTopicScope(t)
		if err != nil {
			return nil, err
		}
		scopes = append(scopes, sc)
	}
	return scopes, nil
}

// resetOffsets checks that the group is inactive, computes the plan and,
// with execute, commits it. Warnings (clamped offsets) are returned even
// when err is not nil.
func resetOffsets(ctx context.Context, adm *kadm.Client, group string, scopes []topicScope, sc scenario, execute bool) (resetResult, []string, error) {
	res := resetResult{Group: group, DryRun: !execute}
	described, err := describeGroups(ctx, adm, []string{group})
	if err != nil {
		return res, nil, err
	}
	if d := described[0]; !inactive(d.State) {
		return res, nil, fmt.Errorf("cannot reset the offsets of group %q: it is %s with %d member(s); "+
			"offsets can only be reset while the group is inactive (Empty), so stop its consumers first", group, d.State, len(d.Members))
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return res, nil, fmt.Errorf("reset-offsets: committed offsets of group %q: %w", group, err)
	}
	if scopes == nil {
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				scopes = append(scopes, topicScope{Topic: o.Topic, Partitions: []int32{o.Partition}})
			}
		})
		if len(scopes) == 0 {
			return res, nil, fmt.Errorf("group %q has no committed offsets: name the partitions with --topic", group)
		}
	}
	parts, err := resolvePartitions(ctx, adm, scopes)
	if err != nil {
		return res, nil, err
	}
	offs, err := listLogOffsets(ctx, adm, parts, sc)
	if err != nil {
		return res, nil, err
	}
	for tp, o := range offs {
		o.committed = -1
		if c, ok := committed.Lookup(tp.Topic, tp.Partition); ok && c.Err == nil && c.At >= 0 {
			o.committed = c.At
		}
		offs[tp] = o
	}
	rows, warnings, err := planReset(sc, parts, offs)
	if err != nil {
		return res, warnings, fmt.Errorf("reset-offsets: %w", err)
	}
	res.Offsets = rows
	if !execute {
		return res, warnings, nil
	}
	var commit kadm.Offsets
	for _, r := range rows {
		commit.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.NewOffset, LeaderEpoch: -1})
	}
	resps, err := adm.CommitOffsets(ctx, group, commit)
	if err != nil {
		return res, warnings, fmt.Errorf("reset-offsets: commit: %w", err)
	}
	for i, r := range res.Offsets {
		c, ok := resps.Lookup(r.Topic, r.Partition)
		switch {
		case !ok:
			res.Offsets[i].Error = "the coordinator did not answer for this partition"
		case c.Err != nil:
			res.Offsets[i].Error = format.ErrorStatus(c.Err, "")
		}
	}
	return res, warnings, nil
}

// resolvePartitions checks the topics and partitions against the cluster's
// metadata and expands topics without partitions to all their partitions.
func resolvePartitions(ctx context.Context, adm *kadm.Client, scopes []topicScope) ([]topicPartition, error) {
	names := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if !slices.Contains(names, s.Topic) {
			names = append(names, s.Topic)
		}
	}
	details, err := adm.ListTopicsWithInternal(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("reset-offsets: metadata: %w", err)
	}
	seen := make(map[topicPartition]bool)
	var parts []topicPartition
	for _, s := range scopes {
		d, ok := details[s.Topic]
		switch {
		case !ok:
			return nil, fmt.Errorf("topic %q: %w", s.Topic, kerr.UnknownTopicOrPartition)
		case d.Err != nil:
			return nil, fmt.Errorf("topic %q: %w", s.Topic, d.Err)
		}
		want := s.Partitions
		if want == nil {
			for _, p := range d.Partitions.Sorted() {
				want = append(want, p.Partition)
			}
		}
		for _, p := range want {
			if _, exists := d.Partitions[p]; !exists {
				return nil, fmt.Errorf("partition %s does not exist (topic %q has %d partitions): %w",
					topicPartition{s.Topic, p}, s.Topic, len(d.Partitions), kerr.UnknownTopicOrPartition)
			}
			tp := topicPartition{s.Topic, p}
			if !seen[tp] {
				seen[tp] = true
				parts = append(parts, tp)
			}
		}
	}
	return parts, nil
}

// listLogOffsets lists the log start and end offsets of parts and, for a
// time scenario, the offsets at the time. Any partition-level error fails
// the reset: a plan with holes would be misleading.
func listLogOffsets(ctx context.Context, adm *kadm.Client, parts []topicPartition, sc scenario) (map[topicPartition]logOffsets, error) {
	var topics []string
	for _, tp := range parts {
		if !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
	}
	type listing struct {
		what string
		list func(context.Context, ...string) (kadm.ListedOffsets, error)
		set  func(*logOffsets, int64)
	}
	listings := []listing{
		{"log start offset", adm.ListStartOffsets, func(o *logOffsets, v int64) { o.start = v }},
		{"log end offset", adm.ListEndOffsets, func(o *logOffsets, v int64) { o.end = v }},
	}
	if sc.kind == toTime {
		listings = append(listings, listing{"offset by time", func(ctx context.Context, ts ...string) (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, sc.n, ts...)
		}, func(o *logOffsets, v int64) { o.atTime = v }})
	}
	offs := make(map[topicPartition]logOffsets, len(parts))
	for _, tp := range parts {
		offs[tp] = logOffsets{start: -1, end: -1, committed: -1, atTime: -1}
	}
	for _, l := range listings {
		listed, err := l.list(ctx, topics...)
		if err != nil {
			return nil, fmt.Errorf("reset-offsets: list %ss: %w", l.what, err)
		}
		for _, tp := range parts {
			lo, ok := listed.Lookup(tp.Topic, tp.Partition)
			switch {
			case !ok:
				return nil, fmt.Errorf("reset-offsets: partition %s: no %s listed", tp, l.what)
			case lo.Err != nil:
				return nil, fmt.Errorf("reset-offsets: partition %s: %s: %w", tp, l.what, lo.Err)
			}
			o := offs[tp]
			l.set(&o, lo.Offset)
			offs[tp] = o
		}
	}
	return offs, nil
}

// writeReset renders the plan: Kafka's GROUP TOPIC PARTITION NEW-OFFSET,
// ERROR when a commit failed, and the dry-run note.
func writeReset(w io.Writer, res resetResult) error {
	withErrors := slices.ContainsFunc(res.Offsets, func(r resetRow) bool { return r.Error != "" })
	header := []string{"GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"}
	if withErrors {
		header = append(header, "ERROR")
	}
	t := format.NewTable(header...)
	for _, r := range res.Offsets {
		cells := []any{res.Group, r.Topic, r.Partition, r.NewOffset}
		if withErrors {
			cells = append(cells, r.Error)
		}
		t.Row(cells...)
	}
	if err := t.Write(w); err != nil {
		return err
	}
	if res.DryRun {
		_, err := io.WriteString(w, "\n"+dryRunNote+"\n")
		return err
	}
	return nil
}
