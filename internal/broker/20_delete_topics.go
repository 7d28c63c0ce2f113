package broker

// DeleteTopics (API key 20), versions 0-6.
//
// Topics are named (v0-v5) or named or identified by id (v6+). The
// controller commits the deletion to the metadata log; this broker then
// deletes the local replicas — their directories and files — before
// answering, so the disk space is free when the client hears back.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { registerAdmin(20, 0, 6, (*Broker).handleDeleteTopics) }

func (b *Broker) handleDeleteTopics(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.DeleteTopicsRequest)
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()
	if fwd, ok := b.forward(ctx, r); ok {
		deleted := fwd.Msg.(*kmsg.DeleteTopicsResponse).Topics
		_ = b.waitForImage(ctx, func(img metadata.Image) bool {
			for _, t := range deleted {
				if t.ErrorCode != 0 {
					continue
				}
				if _, ok := img.TopicByID(t.TopicID); ok {
					return false
				}
				if t.Topic != nil {
					if _, ok := img.Topic(*t.Topic); ok {
						return false
					}
				}
			}
			return true
		})
		return fwd, nil
	}
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	var refs []controller.TopicRef
	if req.Version >= 6 {
		for _, t := range req.Topics {
			ref := controller.TopicRef{ID: t.TopicID}
			if t.Topic != nil {
				ref.Name = *t.Topic
			}
			refs = append(refs, ref)
		}
	} else {
		for _, name := range req.TopicNames {
			refs = append(refs, controller.TopicRef{Name: name})
		}
	}
	results := b.ctl.DeleteTopics(ctx, refs)
	b.syncMetadata()
	for _, res := range results {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		if res.Name != "" {
			name := res.Name
			rt.Topic = &name
		}
		rt.TopicID = res.ID
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
