package broker

// CreateTopics (API key 19), versions 0-7.
//
// The controller validates (topic name, partitions, replication factor,
// manual assignments, configs) and commits the topic to the metadata log;
// per-topic errors are Kafka's (TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION,
// INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG, ...).
// ValidateOnly (v1+) runs every check and commits nothing. v5+ answers with
// the partition count, replication factor and resolved configs; v7 with the
// topic id. The answer is sent after this broker opened the new replicas, so
// a produce right after it finds them.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { registerAdmin(19, 0, 7, (*Broker).handleCreateTopics) }

// adminContext bounds an admin request by its TimeoutMillis (at least 1 s,
// at most a minute).
func adminContext(ctx context.Context, timeoutMillis int32) (context.Context, context.CancelFunc) {
	d := time.Duration(timeoutMillis) * time.Millisecond
	if d < time.Second {
		d = time.Second
	}
	if d > time.Minute {
		d = time.Minute
	}
	return context.WithTimeout(ctx, d)
}

func (b *Broker) handleCreateTopics(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.CreateTopicsRequest)
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()
	if fwd, ok := b.forward(ctx, r); ok {
		if !req.ValidateOnly {
			created := fwd.Msg.(*kmsg.CreateTopicsResponse).Topics
			_ = b.waitForImage(ctx, func(img metadata.Image) bool {
				for _, t := range created {
					if _, ok := img.Topic(t.Topic); !ok && t.ErrorCode == 0 {
						return false
					}
				}
				return true
			})
		}
		return fwd, nil
	}
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	specs := make([]controller.TopicSpec, len(req.Topics))
	for i, t := range req.Topics {
		s := controller.TopicSpec{Name: t.Topic, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
		for _, a := range t.ReplicaAssignment {
			s.Assignments = append(s.Assignments, controller.PartitionReplicas{Partition: a.Partition, Replicas: a.Replicas})
		}
		if len(t.Configs) > 0 {
			s.Configs = make(map[string]*string, len(t.Configs))
			for _, c := range t.Configs {
				s.Configs[c.Name] = c.Value
			}
		}
		specs[i] = s
	}
	results := b.ctl.CreateTopics(ctx, specs, req.ValidateOnly)
	if !req.ValidateOnly {
		b.syncMetadata()
	}
	for _, res := range results {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = res.Name
		if res.Err != nil {
			rt.ErrorCode = res.Err.Code
			if res.ErrMessage != "" {
				msg := res.ErrMessage
				rt.ErrorMessage = &msg
			}
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		rt.TopicID = res.TopicID
		rt.NumPartitions, rt.ReplicationFactor = res.NumPartitions, res.ReplicationFactor
		for _, v := range res.Configs {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name, c.ReadOnly, c.Source, c.IsSensitive = v.Name, v.ReadOnly, int8(v.Source), v.Sensitive
			if !v.Sensitive {
				val := v.Value
				c.Value = &val
			}
			rt.Configs = append(rt.Configs, c)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return &wire.Response{Msg: resp}, nil
}
