package topic

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newCreateCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		partitions int32
		replicas   int16
		configs    []string
		dryRun     bool
		out        format.Format
	)
	cmd := &cobra.Command{
		Use:   "create NAME...",
		Short: "Create topics",
		Long: `Create one or more topics (CreateTopics).

Every topic gets the same partition count, replication factor and configs.
-1 (the default) for --partitions or --replication-factor lets the broker
apply its num.partitions / default.replication.factor.

Prints one row per topic: TOPIC and STATUS, which is OK or the Kafka error
name and message (for example TOPIC_ALREADY_EXISTS). The command exits
non-zero if any topic was not created.

Examples:
  samsa topic create orders
  samsa topic create orders payments -p 6 -r 3
  samsa topic create events -c cleanup.policy=compact -c retention.ms=-1
  samsa topic create orders -p 6 --dry-run      # validate only
  samsa topic create orders --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfgs, err := parseKeyValues("--config", configs)
			if err != nil {
				return err
			}
			if partitions == 0 || partitions < -1 {
				return fmt.Errorf("--partitions must be positive or -1, got %d", partitions)
			}
			if replicas == 0 || replicas < -1 {
				return fmt.Errorf("--replication-factor must be positive or -1, got %d", replicas)
			}
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				names := uniq(args)
				create := adm.CreateTopics
				if dryRun {
					create = adm.ValidateCreateTopics
				}
				resps, err := create(ctx, partitions, replicas, cfgs, names...)
				if err != nil {
					return fmt.Errorf("create topics: %w", err)
				}
				rows := make([]status, 0, len(names))
				var created []string
				for _, name := range names {
					r, ok := resps[name]
					if !ok {
						rows = append(rows, status{Topic: name, Status: "NO_RESPONSE", Message: "the broker did not answer for this topic"})
						continue
					}
					if r.Err == nil && !dryRun {
						created = append(created, name)
					}
					rows = append(rows, newStatus(name, r.Err, r.ErrMessage))
				}
				waitTopicsEverywhere(ctx, cf, created)
				return printStatuses(cmd.OutOrStdout(), out, "create", rows)
			})
		},
	}
	fs := cmd.Flags()
	fs.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: broker default)")
	fs.Int16VarP(&replicas, "replication-factor", "r", -1, "replicas per partition (-1: broker default)")
	fs.StringArrayVarP(&configs, "config", "c", nil, "topic config key=value (repeatable)")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the request without creating anything")
	format.AddFlag(fs, &out)
	return cmd
}

// topicSpreadTime bounds how long create waits for every broker to know the
// topics it created.
const topicSpreadTime = 3 * time.Second

// waitTopicsEverywhere waits, for up to topicSpreadTime, until every live
// broker's own Metadata answer lists topics with a leader for each
// partition. The brokers of a cluster learn of a new topic from the
// metadata log a moment apart, so a command run right after create (a
// describe, or a produce with a client that does not retry
// UNKNOWN_TOPIC_OR_PARTITION, such as kafka-go) could otherwise reach one
// that has not heard of it yet. It never fails the command: a topic that
// spreads slowly is only late.
func waitTopicsEverywhere(ctx context.Context, cf *clientflags.Flags, topics []string) {
	if len(topics) == 0 {
		return
	}
	cl, err := cf.NewClient()
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, topicSpreadTime)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return
	}
	for _, b := range md.Brokers {
		for !BrokerKnows(ctx, cl.Broker(int(b.NodeID)), topics...) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// BrokerKnows reports whether the broker r sends to (a *kgo.Broker, to
// ask one broker itself) answers Metadata with every topic, each with a
// leader for every partition and no partition error.
func BrokerKnows(ctx context.Context, r kmsg.Requestor, topics ...string) bool {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, r)
	if err != nil || len(resp.Topics) != len(topics) {
		return false
	}
	for _, t := range resp.Topics {
		if t.ErrorCode != 0 || len(t.Partitions) == 0 {
			return false
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 || p.ErrorCode != 0 {
				return false
			}
		}
	}
	return true
}
