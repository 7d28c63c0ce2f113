package broker

// Metadata (API key 3), versions 0-12.
//
// Lists the registered brokers, the cluster id, the controller and, for the
// requested topics (all topics when the list is null, or empty at v0), each
// partition's leader, leader epoch, replicas, ISR and offline replicas.
// Unknown topics are created on the spot when auto.create.topics.enable is
// on and the request allows it (always before v4; AllowAutoTopicCreation
// from v4), with the broker's num.partitions and default.replication.factor;
// the answer then already describes the new topic. v10+ may name topics by
// id (UNKNOWN_TOPIC_ID when unknown). Topic authorized operations are not
// computed yet (no ACLs): the "not provided" value is returned.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(3, 0, 12, (*Broker).handleMetadata) }

// autoCreateTimeout bounds how long a metadata request waits for the topics
// it auto-creates.
const autoCreateTimeout = 10 * time.Second

func (b *Broker) handleMetadata(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	view := b.view()

	allTopics := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if !allTopics {
		view = b.autoCreate(ctx, req, view)
	}

	for _, br := range view.brokers {
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID, rb.Host, rb.Port = br.nodeID, br.host, br.port
		if br.rack != "" {
			rack := br.rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	clusterID := view.clusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = b.controllerID()

	if allTopics {
		for _, name := range sortedTopicNames(view) {
			resp.Topics = append(resp.Topics, describeTopic(view.topics[name], req.Version))
		}
		return &wire.Response{Msg: resp}, nil
	}
	for _, rt := range req.Topics {
		var t *topicView
		if rt.Topic != nil {
			t = view.topics[*rt.Topic]
		} else if rt.TopicID != ([16]byte{}) {
			t = view.topicsByID[rt.TopicID]
		}
		if t != nil {
			resp.Topics = append(resp.Topics, describeTopic(t, req.Version))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
		switch {
		case rt.Topic == nil:
			mt.ErrorCode = kerr.UnknownTopicID.Code
		case metadata.ValidateTopicName(*rt.Topic) != nil:
			mt.ErrorCode = kerr.InvalidTopicException.Code
		default:
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return &wire.Response{Msg: resp}, nil
}

// autoCreate creates the requested topics that do not exist, if allowed, and
// returns the view after their creation.
func (b *Broker) autoCreate(ctx context.Context, req *kmsg.MetadataRequest, view *clusterView) *clusterView {
	if !b.cfg.AutoCreateTopics || (req.Version >= 4 && !req.AllowAutoTopicCreation) {
		return view
	}
	var topics []kmsg.CreateTopicsRequestTopic
	seen := map[string]bool{}
	for _, rt := range req.Topics {
		if rt.Topic == nil || view.topics[*rt.Topic] != nil || seen[*rt.Topic] {
			continue
		}
		name := *rt.Topic
		seen[name] = true
		if metadata.ValidateTopicName(name) != nil || metadata.IsInternalTopic(name) {
			continue
		}
		topics = append(topics, topicRequest(name, -1, -1, nil))
	}
	if len(topics) == 0 {
		return view
	}
	ctx, cancel := context.WithTimeout(ctx, autoCreateTimeout)
	defer cancel()
	results, err := b.createTopics(ctx, topics)
	if err != nil {
		b.lg.Warn("auto-create topics: the controller is not reachable", "err", err)
	}
	for _, res := range results {
		if res.ErrorCode != 0 && res.ErrorCode != kerr.TopicAlreadyExists.Code {
			b.lg.Warn("auto-create topic", "topic", res.Topic, "err", kerr.ErrorForCode(res.ErrorCode))
		} else if res.ErrorCode == 0 {
			b.lg.Info("auto-created topic", "topic", res.Topic, "partitions", res.NumPartitions)
		}
	}
	b.syncMetadata()
	return b.view()
}

// syncMetadata applies the node's latest metadata image now, so a handler
// that just changed metadata answers with (and serves) the new state.
func (b *Broker) syncMetadata() {
	if err := b.reconcile(b.meta.Image()); err != nil {
		b.lg.Error("applying metadata", "err", err)
	}
}

// describeTopic renders one topic for a metadata response.
func describeTopic(t *topicView, version int16) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic = &name
	mt.TopicID = t.id
	mt.IsInternal = t.internal
	for _, pv := range t.partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition, mp.Leader, mp.LeaderEpoch = pv.index, pv.leader, pv.leaderEpoch
		mp.Replicas, mp.ISR, mp.OfflineReplicas = pv.replicas, pv.isr, pv.offline
		if mp.OfflineReplicas == nil {
			mp.OfflineReplicas = []int32{}
		}
		if pv.leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
