package group

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// This file holds the three views of `group describe`: the pure functions
// that turn a described group, its commits and the log end offsets into
// rows, and their text rendering. describe.go gathers the inputs.

// groupInfo is what DescribeGroups said about one group, with each member's
// assignment decoded.
type groupInfo struct {
	Name         string
	State        string
	ProtocolType string
	// Protocol is the assignment strategy (range, cooperative-sticky, ...).
	Protocol    string
	Coordinator kadm.BrokerDetail
	Members     []memberInfo
}

// memberInfo is one member of a group.
type memberInfo struct {
	ID         string
	InstanceID *string
	Host       string
	ClientID   string
	// Assignment is sorted by topic, each topic's partitions ascending.
	Assignment []topicAssignment
}

// topicAssignment is the partitions of one topic assigned to a member.
type topicAssignment struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// numPartitions returns how many partitions the member holds.
func (m memberInfo) numPartitions() int {
	n := 0
	for _, t := range m.Assignment {
		n += len(t.Partitions)
	}
	return n
}

// newGroupInfo decodes a described group. Members of a non-consumer
// protocol (Kafka Connect, custom) have no decodable assignment and show
// none.
func newGroupInfo(d kadm.DescribedGroup) groupInfo {
	g := groupInfo{
		Name:         d.Group,
		State:        d.State,
		ProtocolType: d.ProtocolType,
		Protocol:     d.Protocol,
		Coordinator:  d.Coordinator,
	}
	for _, m := range d.Members {
		mi := memberInfo{ID: m.MemberID, InstanceID: m.InstanceID, Host: m.ClientHost, ClientID: m.ClientID}
		if a, ok := m.Assigned.AsConsumer(); ok {
			byTopic := make(map[string][]int32)
			for _, t := range a.Topics {
				byTopic[t.Topic] = append(byTopic[t.Topic], t.Partitions...)
			}
			for topic, ps := range byTopic {
				slices.Sort(ps)
				mi.Assignment = append(mi.Assignment, topicAssignment{Topic: topic, Partitions: slices.Compact(ps)})
			}
			slices.SortFunc(mi.Assignment, func(a, b topicAssignment) int { return strings.Compare(a.Topic, b.Topic) })
		}
		g.Members = append(g.Members, mi)
	}
	return g
}

// groupLag is the offsets view of one group.
type groupLag struct {
	Group string `json:"group"`
	State string `json:"state"`
	// TotalLag sums the positive lags (a commit past the log end, after a
	// truncation, shows a negative lag but does not reduce the total).
	TotalLag   int64          `json:"total_lag"`
	Partitions []partitionLag `json:"partitions"`
}

// partitionLag is one row of the offsets view. Pointers are null where the
// text view shows "-": no committed offset, or no log end offset.
type partitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// LeaderEpoch is the leader epoch stored with the commit, if any.
	LeaderEpoch   *int32 `json:"leader_epoch"`
	CurrentOffset *int64 `json:"current_offset"`
	LogEndOffset  *int64 `json:"log_end_offset"`
	// Lag is LogEndOffset - CurrentOffset; null when either is unknown.
	Lag *int64 `json:"lag"`
	// ConsumerID, Host and ClientID are empty for a partition no member
	// holds.
	ConsumerID string `json:"consumer_id"`
	Host       string `json:"host"`
	ClientID   string `json:"client_id"`
	// Error says why an offset is unknown; empty when nothing failed.
	Error string `json:"error"`
}

// offsetRows builds the offsets view the way kafka-consumer-groups.sh does:
// members with partitions first (most partitions first), each member's
// partitions by topic and number, then partitions the group committed to
// that no member holds. commits may hold partitions with offset -1 (no
// commit); ends are the log end offsets (high watermarks).
func offsetRows(g groupInfo, commits kadm.OffsetResponses, ends kadm.ListedOffsets) groupLag {
	res := groupLag{Group: g.Name, State: g.State, Partitions: []partitionLag{}}
	members := slices.Clone(g.Members)
	slices.SortStableFunc(members, func(a, b memberInfo) int { return cmp.Compare(b.numPartitions(), a.numPartitions()) })
	assigned := make(kadm.TopicsSet)
	for _, m := range members {
		for _, t := range m.Assignment {
			for _, p := range t.Partitions {
				assigned.Add(t.Topic, p)
				res.Partitions = append(res.Partitions, lagRow(t.Topic, p, commits, ends, &m))
			}
		}
	}
	var unassigned []partitionLag
	commits.Each(func(o kadm.OffsetResponse) {
		if o.At < 0 || assigned.Lookup(o.Topic, o.Partition) {
			return
		}
		unassigned = append(unassigned, lagRow(o.Topic, o.Partition, commits, ends, nil))
	})
	slices.SortFunc(unassigned, func(a, b partitionLag) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	res.Partitions = append(res.Partitions, unassigned...)
	for _, p := range res.Partitions {
		if p.Lag != nil && *p.Lag > 0 {
			res.TotalLag += *p.Lag
		}
	}
	return res
}

// lagRow builds one partition row; m is the member holding it, or nil.
func lagRow(topic string, partition int32, commits kadm.OffsetResponses, ends kadm.ListedOffsets, m *memberInfo) partitionLag {
	row := partitionLag{Topic: topic, Partition: partition}
	if m != nil {
		row.ConsumerID, row.Host, row.ClientID = m.ID, m.Host, m.ClientID
	}
	var errs []string
	if c, ok := commits.Lookup(topic, partition); ok {
		switch {
		case c.Err != nil:
			errs = append(errs, "committed offset: "+errorName(c.Err))
		case c.At >= 0:
			at := c.At
			row.CurrentOffset = &at
			if c.LeaderEpoch >= 0 {
				e := c.LeaderEpoch
				row.LeaderEpoch = &e
			}
		}
	}
	switch e, ok := ends.Lookup(topic, partition); {
	case !ok:
		errs = append(errs, "log end offset: not listed")
	case e.Err != nil:
		errs = append(errs, "log end offset: "+errorName(e.Err))
	case e.Offset >= 0:
		end := e.Offset
		row.LogEndOffset = &end
	}
	if row.CurrentOffset != nil && row.LogEndOffset != nil {
		lag := *row.LogEndOffset - *row.CurrentOffset
		row.Lag = &lag
	}
	row.Error = strings.Join(errs, "; ")
	return row
}

// writeOffsets renders the offsets view of one group; verbose adds Kafka's
// LEADER-EPOCH column.
func writeOffsets(w io.Writer, g groupLag, verbose bool) error {
	header := []string{"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"}
	if verbose {
		header = slices.Insert(header, 3, "LEADER-EPOCH")
	}
	t := format.NewTable(header...)
	for _, p := range g.Partitions {
		cells := []any{g.Group, p.Topic, p.Partition, optInt(p.CurrentOffset), optInt(p.LogEndOffset), optInt(p.Lag),
			orMissing(p.ConsumerID), orMissing(p.Host), orMissing(p.ClientID)}
		if verbose {
			epoch := missing
			if p.LeaderEpoch != nil {
				epoch = strconv.Itoa(int(*p.LeaderEpoch))
			}
			cells = slices.Insert(cells, 3, any(epoch))
		}
		t.Row(cells...)
	}
	return t.Write(w)
}

// groupMembers is the --members view of one group.
type groupMembers struct {
	Group   string      `json:"group"`
	State   string      `json:"state"`
	Members []memberRow `json:"members"`
}

// memberRow is one member in the --members view.
type memberRow struct {
	ConsumerID      string            `json:"consumer_id"`
	GroupInstanceID *string           `json:"group_instance_id"`
	Host            string            `json:"host"`
	ClientID        string            `json:"client_id"`
	Partitions      int               `json:"partitions"`
	Assignment      []topicAssignment `json:"assignment"`
}

func memberRows(g groupInfo) groupMembers {
	res := groupMembers{Group: g.Name, State: g.State, Members: []memberRow{}}
	for _, m := range g.Members {
		a := m.Assignment
		if a == nil {
			a = []topicAssignment{}
		}
		res.Members = append(res.Members, memberRow{
			ConsumerID:      m.ID,
			GroupInstanceID: m.InstanceID,
			Host:            m.Host,
			ClientID:        m.ClientID,
			Partitions:      m.numPartitions(),
			Assignment:      a,
		})
	}
	return res
}

// writeMembers renders the --members view of one group. GROUP-INSTANCE-ID
// appears only when a member has one (static membership, KIP-345), and
// ASSIGNMENT ("orders(0,1), payments(2)") only with verbose, as in Kafka.
func writeMembers(w io.Writer, g groupMembers, verbose bool) error {
	withInstance := slices.ContainsFunc(g.Members, func(m memberRow) bool { return m.GroupInstanceID != nil })
	header := []string{"GROUP", "CONSUMER-ID"}
	if withInstance {
		header = append(header, "GROUP-INSTANCE-ID")
	}
	header = append(header, "HOST", "CLIENT-ID", "#PARTITIONS")
	if verbose {
		header = append(header, "ASSIGNMENT")
	}
	t := format.NewTable(header...)
	for _, m := range g.Members {
		cells := []any{g.Group, m.ConsumerID}
		if withInstance {
			id := missing
			if m.GroupInstanceID != nil {
				id = *m.GroupInstanceID
			}
			cells = append(cells, id)
		}
		cells = append(cells, m.Host, m.ClientID, m.Partitions)
		if verbose {
			cells = append(cells, assignmentString(m.Assignment))
		}
		t.Row(cells...)
	}
	return t.Write(w)
}

// assignmentString renders an assignment as Kafka's --members --verbose
// does: "topic(0,1), other(2)", or "-" when empty.
func assignmentString(a []topicAssignment) string {
	parts := make([]string, 0, len(a))
	for _, t := range a {
		if len(t.Partitions) == 0 {
			continue
		}
		ps := make([]string, len(t.Partitions))
		for i, p := range t.Partitions {
			ps[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, t.Topic+"("+strings.Join(ps, ",")+")")
	}
	if len(parts) == 0 {
		return missing
	}
	return strings.Join(parts, ", ")
}

// groupState is the --state view of one group.
type groupState struct {
	Group       string      `json:"group"`
	Coordinator coordinator `json:"coordinator"`
	// AssignmentStrategy is empty unless the group is Stable.
	AssignmentStrategy string `json:"assignment_strategy"`
	State              string `json:"state"`
	ProtocolType       string `json:"protocol_type"`
	Members            int    `json:"members"`
}

// coordinator is the broker coordinating a group.
type coordinator struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
}

func stateRow(g groupInfo) groupState {
	return groupState{
		Group:              g.Name,
		Coordinator:        coordinator{ID: g.Coordinator.NodeID, Host: g.Coordinator.Host, Port: g.Coordinator.Port},
		AssignmentStrategy: g.Protocol,
		State:              g.State,
		ProtocolType:       g.ProtocolType,
		Members:            len(g.Members),
	}
}

// writeState renders the --state view of one group.
func writeState(w io.Writer, s groupState) error {
	t := format.NewTable("GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")
	coord := fmt.Sprintf("%s:%d (%d)", s.Coordinator.Host, s.Coordinator.Port, s.Coordinator.ID)
	t.Row(s.Group, coord, orMissing(s.AssignmentStrategy), s.State, s.Members)
	return t.Write(w)
}

func optInt[T int32 | int64](v *T) string {
	if v == nil {
		return missing
	}
	return strconv.FormatInt(int64(*v), 10)
}

func orMissing(s string) string {
	if s == "" {
		return missing
	}
	return s
}

func errorName(err error) string {
	name, _ := format.ErrorParts(err, "")
	return name
}
