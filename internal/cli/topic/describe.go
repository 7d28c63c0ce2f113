package topic

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// described is the result of `topic describe` for one topic.
type described struct {
	Summary summary `json:"summary"`
	// Configs is present only with --configs.
	Configs    *[]configEntry   `json:"configs,omitempty"`
	Partitions []partitionState `json:"partitions"`
}

type summary struct {
	Name       string `json:"name"`
	ID         string `json:"id"`
	Internal   bool   `json:"internal"`
	Partitions int    `json:"partitions"`
	Replicas   int    `json:"replicas"`
}

type configEntry struct {
	Key       string  `json:"key"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive"`
}

// partitionState is one partition row; offsets are -1 when ListOffsets
// failed for the partition (Error then says why).
type partitionState struct {
	Partition      int32   `json:"partition"`
	Leader         int32   `json:"leader"`
	Epoch          int32   `json:"epoch"`
	Replicas       []int32 `json:"replicas"`
	ISR            []int32 `json:"isr"`
	Offline        []int32 `json:"offline_replicas"`
	LogStartOffset int64   `json:"log_start_offset"`
	HighWatermark  int64   `json:"high_watermark"`
	Error          string  `json:"error"`
}

func newDescribeCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		withConfigs bool
		allConfigs  bool
		out         format.Format
	)
	cmd := &cobra.Command{
		Use:   "describe NAME...",
		Short: "Describe topics: summary, configs, partitions and offsets",
		Long: `Describe topics (Metadata, ListOffsets and, with --configs, DescribeConfigs).

For each topic prints:
  SUMMARY     NAME, ID (Kafka's base64 topic id), PARTITIONS, REPLICAS
  CONFIGS     with --configs: KEY VALUE SOURCE of every config whose value
              does not come from the built-in defaults (--all-configs: all)
  PARTITIONS  PARTITION LEADER EPOCH REPLICAS ISR LOG-START-OFFSET
              HIGH-WATERMARK (and ERROR when a partition reported one)

LOG-START-OFFSET is the earliest offset still in the log and HIGH-WATERMARK
the offset the next record will get once replicated, so HIGH-WATERMARK minus
LOG-START-OFFSET records are readable. With --format json or yaml the result
is a list with one {summary, configs, partitions} object per topic.

The command exits non-zero if a topic does not exist.

Examples:
  samsa topic describe orders
  samsa topic describe orders -c
  samsa topic describe orders payments --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				names := uniq(args)
				results, missing, err := describeTopics(ctx, adm, names, withConfigs || allConfigs, allConfigs)
				if err != nil {
					return err
				}
				if len(results) > 0 {
					err = format.Print(cmd.OutOrStdout(), out, results, func(w io.Writer) error {
						return writeDescribed(w, results)
					})
					if err != nil {
						return err
					}
				}
				if len(missing) > 0 {
					return errors.Join(missing...)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&withConfigs, "configs", "c", false, "also print configs that are not at their default")
	cmd.Flags().BoolVar(&allConfigs, "all-configs", false, "also print every config, defaults included")
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}

// describeTopics gathers everything describe prints. Topics that could not be
// loaded are returned as errors in missing, not in results.
func describeTopics(ctx context.Context, adm *kadm.Client, names []string, configs, allConfigs bool) (results []described, missing []error, err error) {
	details, err := adm.ListTopicsWithInternal(ctx, names...)
	if err != nil {
		return nil, nil, fmt.Errorf("describe topics: metadata: %w", err)
	}
	var found []string
	for _, name := range names {
		d, ok := details[name]
		switch {
		case !ok:
			missing = append(missing, fmt.Errorf("topic %q: %w", name, kerr.UnknownTopicOrPartition))
		case d.Err != nil:
			missing = append(missing, fmt.Errorf("topic %q: %w", name, d.Err))
		default:
			found = append(found, name)
		}
	}
	if len(found) == 0 {
		return nil, missing, nil
	}
	starts, err := listOffsetsSettled(ctx, adm.ListStartOffsets, found)
	if err != nil {
		return nil, nil, fmt.Errorf("describe topics: list start offsets: %w", err)
	}
	ends, err := listOffsetsSettled(ctx, adm.ListEndOffsets, found)
	if err != nil {
		return nil, nil, fmt.Errorf("describe topics: list end offsets: %w", err)
	}
	var rcs kadm.ResourceConfigs
	if configs {
		rcs, err = adm.DescribeTopicConfigs(ctx, found...)
		if err != nil {
			return nil, nil, fmt.Errorf("describe topics: describe configs: %w", err)
		}
	}
	for _, name := range found {
		d := details[name]
		res := described{Summary: summary{
			Name:       name,
			ID:         topicID(d.ID),
			Internal:   d.IsInternal,
			Partitions: len(d.Partitions),
			Replicas:   d.Partitions.NumReplicas(),
		}}
		if configs {
			entries, err := configEntries(rcs, name, allConfigs)
			if err != nil {
				missing = append(missing, err)
			}
			res.Configs = &entries
		}
		for _, p := range d.Partitions.Sorted() {
			res.Partitions = append(res.Partitions, partitionRow(p, starts, ends))
		}
		results = append(results, res)
	}
	return results, missing, nil
}

// offsetsSettleTime bounds how long describe asks again for offsets that
// failed with a retriable error.
const offsetsSettleTime = 2 * time.Second

// listOffsetsSettled lists offsets and, while some partition fails with a
// retriable error (a leader that has not yet learned of a topic created a
// moment ago answers UNKNOWN_TOPIC_OR_PARTITION; a leader that just moved,
// NOT_LEADER_OR_FOLLOWER), asks again, for up to offsetsSettleTime.
func listOffsetsSettled(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topics []string) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(offsetsSettleTime)
	for {
		offsets, err := list(ctx, topics...)
		if err != nil {
			return nil, err
		}
		retriable := false
		offsets.Each(func(o kadm.ListedOffset) { retriable = retriable || kerr.IsRetriable(o.Err) })
		if !retriable || time.Now().After(deadline) {
			return offsets, nil
		}
		select {
		case <-ctx.Done():
			return offsets, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func partitionRow(p kadm.PartitionDetail, starts, ends kadm.ListedOffsets) partitionState {
	row := partitionState{
		Partition:      p.Partition,
		Leader:         p.Leader,
		Epoch:          p.LeaderEpoch,
		Replicas:       nonNil(p.Replicas),
		ISR:            nonNil(p.ISR),
		Offline:        nonNil(p.OfflineReplicas),
		LogStartOffset: -1,
		HighWatermark:  -1,
	}
	var errs []string
	if p.Err != nil {
		errs = append(errs, errorName(p.Err))
	}
	if o, ok := starts.Lookup(p.Topic, p.Partition); ok && o.Err == nil {
		row.LogStartOffset = o.Offset
	} else if ok {
		errs = append(errs, "log start offset: "+errorName(o.Err))
	}
	if o, ok := ends.Lookup(p.Topic, p.Partition); ok && o.Err == nil {
		row.HighWatermark = o.Offset
	} else if ok {
		errs = append(errs, "high watermark: "+errorName(o.Err))
	}
	row.Error = strings.Join(errs, "; ")
	return row
}

func configEntries(rcs kadm.ResourceConfigs, name string, all bool) ([]configEntry, error) {
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return []configEntry{}, fmt.Errorf("topic %q: describe configs: %w", name, err)
	}
	entries := []configEntry{}
	for _, c := range rc.Configs {
		if !all && c.Source == kmsg.ConfigSourceDefaultConfig {
			continue
		}
		entries = append(entries, configEntry{
			Key:       c.Key,
			Value:     c.Value,
			Source:    c.Source.String(),
			Sensitive: c.Sensitive,
		})
	}
	return entries, nil
}

func writeDescribed(w io.Writer, results []described) error {
	for i, r := range results {
		if i > 0 {
			io.WriteString(w, "\n")
		}
		format.Section(w, "SUMMARY", true)
		err := format.WriteKVs(w,
			format.KV{Key: "NAME", Value: r.Summary.Name},
			format.KV{Key: "ID", Value: r.Summary.ID},
			format.KV{Key: "PARTITIONS", Value: r.Summary.Partitions},
			format.KV{Key: "REPLICAS", Value: r.Summary.Replicas},
		)
		if err != nil {
			return err
		}
		if r.Configs != nil {
			format.Section(w, "CONFIGS", false)
			t := format.NewTable("KEY", "VALUE", "SOURCE")
			for _, c := range *r.Configs {
				v := "<nil>"
				if c.Sensitive {
					v = "<sensitive>"
				} else if c.Value != nil {
					v = *c.Value
				}
				t.Row(c.Key, v, c.Source)
			}
			if err := t.Write(w); err != nil {
				return err
			}
		}
		format.Section(w, "PARTITIONS", false)
		if err := partitionTable(r.Partitions).Write(w); err != nil {
			return err
		}
	}
	return nil
}

func partitionTable(rows []partitionState) *format.Table {
	withErrors, withOffline := false, false
	for _, p := range rows {
		withErrors = withErrors || p.Error != ""
		withOffline = withOffline || len(p.Offline) > 0
	}
	header := []string{"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "LOG-START-OFFSET", "HIGH-WATERMARK"}
	if withOffline {
		header = append(header, "OFFLINE-REPLICAS")
	}
	if withErrors {
		header = append(header, "ERROR")
	}
	t := format.NewTable(header...)
	for _, p := range rows {
		cells := []any{p.Partition, p.Leader, p.Epoch, p.Replicas, p.ISR, offsetCell(p.LogStartOffset), offsetCell(p.HighWatermark)}
		if withOffline {
			cells = append(cells, p.Offline)
		}
		if withErrors {
			cells = append(cells, p.Error)
		}
		t.Row(cells...)
	}
	return t
}

func offsetCell(o int64) string {
	if o < 0 {
		return "-"
	}
	return format.Cell(o)
}

// topicID renders a topic id as Kafka's tools do (URL-safe base64 without
// padding); the all-zero id of a broker without topic ids renders as "".
func topicID(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func errorName(err error) string {
	name, _ := format.ErrorParts(err, "")
	return name
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
