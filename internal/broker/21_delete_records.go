package broker

// DeleteRecords (API key 21), versions 0-2: advances each partition's log
// start offset (offset -1 means the high watermark) and returns the new low
// watermark. Offsets above the high watermark are OFFSET_OUT_OF_RANGE. Whole
// segments below the new start are deleted; the rest become invisible.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(21, 0, 2, (*Broker).handleDeleteRecords) }

func (b *Broker) handleDeleteRecords(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	view := b.view()
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t := view.topics[rt.Topic]
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			p, _, err := b.leaderFor(t, rp.Partition)
			if err == nil {
				sp.LowWatermark, err = p.DeleteRecordsBefore(rp.Offset)
			}
			if err != nil {
				sp.LowWatermark = -1
				setError(&sp.ErrorCode, nil, err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return &wire.Response{Msg: resp}, nil
}
