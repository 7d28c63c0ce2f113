package broker

// CreatePartitions (API key 37), versions 0-3: grows a topic to Count
// partitions (never shrinks: INVALID_PARTITIONS when Count is not larger),
// with optional manual assignments of the new partitions. ValidateOnly runs
// every check and commits nothing.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { registerAdmin(37, 0, 3, (*Broker).handleCreatePartitions) }

func (b *Broker) handleCreatePartitions(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.CreatePartitionsRequest)
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()
	if fwd, ok := b.forward(ctx, r); ok {
		if !req.ValidateOnly {
			_ = b.waitForImage(ctx, func(img metadata.Image) bool {
				for i, t := range fwd.Msg.(*kmsg.CreatePartitionsResponse).Topics {
					if tp, ok := img.Topic(t.Topic); t.ErrorCode == 0 && i < len(req.Topics) && (!ok || len(tp.Partitions) < int(req.Topics[i].Count)) {
						return false
					}
				}
				return true
			})
		}
		return fwd, nil
	}
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	specs := make([]controller.PartitionsSpec, len(req.Topics))
	for i, t := range req.Topics {
		specs[i] = controller.PartitionsSpec{Topic: t.Topic, Count: t.Count}
		for _, a := range t.Assignment {
			specs[i].Assignments = append(specs[i].Assignments, a.Replicas)
		}
	}
	results := b.ctl.CreatePartitions(ctx, specs, req.ValidateOnly)
	if !req.ValidateOnly {
		b.syncMetadata()
	}
	for _, res := range results {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = res.Topic
		if res.Err != nil {
			rt.ErrorCode = res.Err.Code
			if res.ErrMessage != "" {
				msg := res.ErrMessage
				rt.ErrorMessage = &msg
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return &wire.Response{Msg: resp}, nil
}
