package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/cluster/plan"
)

// session is one command's connection to the cluster: a kgo client for
// requests kadm has no helper for, and a kadm client over it whose
// broker-side timeout is --request-timeout.
type session struct {
	cl  *kgo.Client
	adm *kadm.Client
	cf  *clientflags.Flags
}

func openSession(cf *clientflags.Flags) (*session, error) {
	cl, err := cf.NewClient()
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(timeoutMillis(cf))
	return &session{cl: cl, adm: adm, cf: cf}, nil
}

func (s *session) close() { s.cl.Close() }

// request bounds parent by --request-timeout for one request.
func (s *session) request(parent context.Context) (context.Context, context.CancelFunc) {
	return s.cf.RequestContext(parent)
}

func timeoutMillis(cf *clientflags.Flags) int32 {
	return int32(min(cf.RequestTimeout.Milliseconds(), 1<<31-1))
}

// ongoing is a reassignment in progress (ListPartitionReassignments).
type ongoing struct {
	// Replicas is the partition's whole replica set while it moves: the
	// target replicas plus those being removed.
	Replicas []int32
	// Adding are the target replicas still catching up.
	Adding []int32
	// Removing are the replicas that leave when the move completes.
	Removing []int32
}

// target returns the replicas the partition will have once the
// reassignment completes: Replicas without Removing, in order.
func (o ongoing) target() []int32 {
	out := make([]int32, 0, len(o.Replicas))
	for _, r := range o.Replicas {
		if !slices.Contains(o.Removing, r) {
			out = append(out, r)
		}
	}
	return out
}

// reassignments maps topic → partition → reassignment in progress.
type reassignments map[string]map[int32]ongoing

func (r reassignments) count() int {
	n := 0
	for _, ps := range r {
		n += len(ps)
	}
	return n
}

// clusterState is what a reassignment plan starts from.
type clusterState struct {
	// brokers are the live brokers the Metadata response lists.
	brokers []plan.Broker
	// assignment holds the replicas of every partition considered, a
	// partition under reassignment at the target of that reassignment (so
	// the plan builds on it instead of undoing it).
	assignment plan.Assignment
	// ongoing are the reassignments in progress among those partitions.
	ongoing reassignments
}

// unlisted returns the ids of brokers that hold replicas in the
// assignment (or in a running reassignment) but are not live brokers.
func (st clusterState) unlisted() []int32 {
	live := map[int32]bool{}
	for _, b := range st.brokers {
		live[b.ID] = true
	}
	seen := map[int32]bool{}
	note := func(rs []int32) {
		for _, r := range rs {
			if !live[r] {
				seen[r] = true
			}
		}
	}
	for _, ps := range st.assignment {
		for _, rs := range ps {
			note(rs)
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// loadState reads the brokers and the replicas of topics (all topics,
// internal ones included, when topics is empty) with a fresh Metadata
// request, and the reassignments in progress.
func loadState(ctx context.Context, s *session, topics []string) (clusterState, error) {
	md, err := fetchMetadata(ctx, s, topics)
	if err != nil {
		return clusterState{}, err
	}
	running, err := listReassignments(ctx, s)
	if err != nil {
		return clusterState{}, err
	}
	st := clusterState{assignment: plan.Assignment{}, ongoing: reassignments{}}
	for _, b := range md.Brokers {
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		st.brokers = append(st.brokers, plan.Broker{ID: b.NodeID, Rack: rack})
	}
	slices.SortFunc(st.brokers, func(x, y plan.Broker) int { return int(x.ID) - int(y.ID) })
	for _, t := range md.Topics {
		if t.Topic == nil {
			continue
		}
		name := *t.Topic
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && len(t.Partitions) == 0 {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return clusterState{}, fmt.Errorf("topic %q does not exist (list topics with `samsa topic list`)", name)
			}
			return clusterState{}, fmt.Errorf("topic %q: %w; try again once the topic is available", name, err)
		}
		ps := make(map[int32][]int32, len(t.Partitions))
		for _, p := range t.Partitions {
			if len(p.Replicas) == 0 {
				continue
			}
			if o, ok := running[name][p.Partition]; ok {
				ps[p.Partition] = o.target()
				if st.ongoing[name] == nil {
					st.ongoing[name] = map[int32]ongoing{}
				}
				st.ongoing[name][p.Partition] = o
				continue
			}
			ps[p.Partition] = slices.Clone(p.Replicas)
		}
		st.assignment[name] = ps
	}
	return st, nil
}

// fetchMetadata asks for brokers and topics, bypassing the client's
// metadata cache so that the replicas are current. An empty topics asks for
// every topic.
func fetchMetadata(ctx context.Context, s *session, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	rctx, cancel := s.request(ctx)
	defer cancel()
	resp, err := req.RequestWith(rctx, s.cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); errors.Is(err, kerr.TopicAuthorizationFailed) && t.Topic != nil {
			return nil, fmt.Errorf("metadata: topic %q: %w (the principal needs DESCRIBE on the topic)", *t.Topic, err)
		}
	}
	return resp, nil
}

// listReassignments returns every reassignment in progress
// (ListPartitionReassignments with no topics, which asks for all).
func listReassignments(ctx context.Context, s *session) (reassignments, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = timeoutMillis(s.cf)
	rctx, cancel := s.request(ctx)
	defer cancel()
	resp, err := req.RequestWith(rctx, s.cl)
	if err != nil {
		return nil, fmt.Errorf("list partition reassignments (Kafka API 46): %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("list partition reassignments: %w%s", withMessage(err, resp.ErrorMessage), authHint(err))
	}
	out := reassignments{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if out[t.Topic] == nil {
				out[t.Topic] = map[int32]ongoing{}
			}
			out[t.Topic][p.Partition] = ongoing{Replicas: p.Replicas, Adding: p.AddingReplicas, Removing: p.RemovingReplicas}
		}
	}
	return out, nil
}
