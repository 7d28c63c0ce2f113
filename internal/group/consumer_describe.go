package group

// Describing KIP-848 consumer groups: ConsumerGroupDescribe, and
// DescribeGroups in the classic layout for older admin clients.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeConsumer fills a ConsumerGroupDescribe answer.
func (g *Group) describeConsumer(dg *kmsg.ConsumerGroupDescribeResponseGroup) {
	cg := g.consumer
	dg.State = g.state.String()
	dg.Epoch, dg.AssignmentEpoch, dg.AssignorName = cg.epoch, cg.assignmentEpoch, cg.assignor
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := cg.members[id]
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID, dm.MemberEpoch, dm.ClientID, dm.ClientHost = m.id, m.epoch, m.clientID, m.clientHost
		dm.MemberType = 1
		if m.instanceID != "" {
			inst := m.instanceID
			dm.InstanceID = &inst
		}
		if m.rackID != "" {
			rack := m.rackID
			dm.RackID = &rack
		}
		if m.regex != "" {
			re := m.regex
			dm.SubscribedTopicRegex = &re
		}
		dm.SubscribedTopics = slices.Clone(m.subscribed)
		if dm.SubscribedTopics == nil {
			dm.SubscribedTopics = []string{}
		}
		dm.Assignment.TopicPartitions = g.byTopicID(m.assigned)
		dm.TargetAssignment.TopicPartitions = g.byTopicID(cg.target[m.id])
		dg.Members = append(dg.Members, dm)
	}
}

// describeConsumerAsClassic answers DescribeGroups for a consumer group the
// way Kafka does for old admin clients: protocol type "consumer", the
// assignor as protocol, subscriptions and assignments in the classic
// consumer encodings.
func (g *Group) describeConsumerAsClassic(dg *kmsg.DescribeGroupsResponseGroup) {
	cg := g.consumer
	dg.State = g.state.String()
	dg.ProtocolType, dg.Protocol = "consumer", cg.assignor
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := cg.members[id]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.ClientID, dm.ClientHost = m.id, m.clientID, m.clientHost
		if m.instanceID != "" {
			inst := m.instanceID
			dm.InstanceID = &inst
		}
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Topics = slices.Clone(m.subscribed)
		dm.ProtocolMetadata = meta.AppendTo(nil)
		asg := kmsg.NewConsumerMemberAssignment()
		for _, t := range g.byTopicID(m.assigned) {
			asg.Topics = append(asg.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		dm.MemberAssignment = asg.AppendTo(nil)
		dg.Members = append(dg.Members, dm)
	}
}
