package broker

// ListOffsets (API key 2), versions 1-10.
//
// Timestamps: -1 latest (the high watermark, or the last stable offset for
// read_committed, v2+), -2 earliest, -3 the record with the largest
// timestamp (v7+), -4 earliest local (v8+; equal to earliest until tiered
// storage), -5 latest tiered (v9+; -1 while nothing is tiered), and t >= 0
// the first offset whose timestamp is >= t (-1 when there is none). v4+
// checks CurrentLeaderEpoch (KIP-320). v0 (old-style offset arrays) is not
// served: no current client sends it.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(2, 1, 10, (*Broker).handleListOffsets) }

func (b *Broker) handleListOffsets(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	view := b.view()
	readCommitted := req.Version >= 2 && req.IsolationLevel == 1
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		var t *topicView
		t, view = b.topicOrSync(view, rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Offset, sp.Timestamp = -1, -1
			p, pv, err := b.leaderFor(t, rp.Partition)
			if err == nil && req.Version >= 4 && rp.CurrentLeaderEpoch >= 0 {
				err = checkLeaderEpoch(rp.CurrentLeaderEpoch, pv.leaderEpoch)
			}
			if err == nil {
				sp.LeaderEpoch = pv.leaderEpoch
				sp.Offset, sp.Timestamp, err = p.ListOffset(rp.Timestamp, readCommitted)
				if rp.Timestamp == partition.LatestTimestamp && req.ReplicaID >= 0 {
					// A follower resolving OFFSET_OUT_OF_RANGE: the log end.
					sp.Offset = p.LogEndOffset()
				}
				if rp.Timestamp == partition.MaxTimestamp && req.Version < 7 {
					err = kerr.UnsupportedVersion
				}
			}
			if err != nil {
				sp.Offset, sp.Timestamp = -1, -1
				setError(&sp.ErrorCode, nil, err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return &wire.Response{Msg: resp}, nil
}

// leaderFor finds the local leader replica of a topic partition.
func (b *Broker) leaderFor(t *topicView, index int32) (*partition.Partition, *partitionView, error) {
	if t == nil || index < 0 || int(index) >= len(t.partitions) {
		return nil, nil, kerr.UnknownTopicOrPartition
	}
	pv := &t.partitions[index]
	if pv.leader != b.nodeID || pv.local == nil {
		return nil, pv, kerr.NotLeaderForPartition
	}
	return pv.local, pv, nil
}

// checkLeaderEpoch compares a client's leader epoch with the current one
// (KIP-320).
func checkLeaderEpoch(client, current int32) error {
	switch {
	case client < current:
		return kerr.FencedLeaderEpoch
	case client > current:
		return kerr.UnknownLeaderEpoch
	}
	return nil
}

// setError stores a Kafka error code (and message, when the field exists)
// from any error: *kerr.Error as is, anything else as UNKNOWN_SERVER_ERROR.
func setError(code *int16, msg **string, err error) {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		ke = kerr.UnknownServerError
	}
	*code = ke.Code
	if msg != nil {
		s := err.Error()
		*msg = &s
	}
}
