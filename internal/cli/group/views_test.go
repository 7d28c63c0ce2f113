package group

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// commitsOf builds OffsetFetch results: "topic/partition" -> offset.
func commitsOf(m map[string]int64) kadm.OffsetResponses {
	rs := make(kadm.OffsetResponses)
	for k, at := range m {
		var topic string
		var p int32
		fmt.Sscanf(strings.Replace(k, "/", " ", 1), "%s %d", &topic, &p)
		rs.Add(kadm.OffsetResponse{Offset: kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1}})
	}
	return rs
}

// endsOf builds ListOffsets results: "topic/partition" -> end offset.
func endsOf(m map[string]int64) kadm.ListedOffsets {
	l := make(kadm.ListedOffsets)
	for k, end := range m {
		var topic string
		var p int32
		fmt.Sscanf(strings.Replace(k, "/", " ", 1), "%s %d", &topic, &p)
		if l[topic] == nil {
			l[topic] = map[int32]kadm.ListedOffset{}
		}
		l[topic][p] = kadm.ListedOffset{Topic: topic, Partition: p, Offset: end}
	}
	return l
}

func TestOffsetRows(t *testing.T) {
	g := groupInfo{
		Name:  "g",
		State: "Stable",
		Members: []memberInfo{
			{ID: "m-small", Host: "/10.0.0.1", ClientID: "c1", Assignment: []topicAssignment{{Topic: "b", Partitions: []int32{0}}}},
			{ID: "m-idle", Host: "/10.0.0.3", ClientID: "c3"},
			{ID: "m-big", Host: "/10.0.0.2", ClientID: "c2", Assignment: []topicAssignment{
				{Topic: "a", Partitions: []int32{0, 1}},
				{Topic: "b", Partitions: []int32{1}},
			}},
		},
	}
	commits := commitsOf(map[string]int64{
		"a/0": 5,  // lag 5
		"a/1": -1, // "no commit" as OffsetFetch reports it
		"b/0": 12, // committed past the end after a truncation: negative lag, as Kafka prints it
		"z/3": 7,  // no member holds it
		"c/0": 1,  // no member holds it, and its end offset is unknown
	})
	ends := endsOf(map[string]int64{"a/0": 10, "a/1": 4, "b/0": 10, "b/1": 3, "z/3": 9})
	ends["c"] = map[int32]kadm.ListedOffset{0: {Topic: "c", Partition: 0, Offset: -1, Err: kerr.NotLeaderForPartition}}

	got := offsetRows(g, commits, ends)
	var rows []string
	for _, r := range got.Partitions {
		rows = append(rows, fmt.Sprintf("%s/%d cur=%s end=%s lag=%s member=%s err=%q",
			r.Topic, r.Partition, optInt(r.CurrentOffset), optInt(r.LogEndOffset), optInt(r.Lag), orMissing(r.ConsumerID), r.Error))
	}
	want := []string{
		`a/0 cur=5 end=10 lag=5 member=m-big err=""`,
		`a/1 cur=- end=4 lag=- member=m-big err=""`,
		`b/1 cur=- end=3 lag=- member=m-big err=""`,
		`b/0 cur=12 end=10 lag=-2 member=m-small err=""`,
		`c/0 cur=1 end=- lag=- member=- err="log end offset: NOT_LEADER_FOR_PARTITION"`,
		`z/3 cur=7 end=9 lag=2 member=- err=""`,
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if got.TotalLag != 7 {
		t.Fatalf("total lag %d, want 7 (the positive lags)", got.TotalLag)
	}

	// An empty group with no commits has no rows, and the JSON list is [] not null.
	empty := offsetRows(groupInfo{Name: "e", State: "Empty"}, nil, nil)
	if empty.Partitions == nil || len(empty.Partitions) != 0 {
		t.Fatalf("empty group rows: %#v", empty.Partitions)
	}
}

func TestWriteOffsets(t *testing.T) {
	five, ten, lag, epoch := int64(5), int64(10), int64(5), int32(3)
	g := groupLag{Group: "g", Partitions: []partitionLag{
		{Topic: "orders", Partition: 0, LeaderEpoch: &epoch, CurrentOffset: &five, LogEndOffset: &ten, Lag: &lag, ConsumerID: "m1", Host: "/127.0.0.1", ClientID: "c"},
		{Topic: "orders", Partition: 1, LogEndOffset: &ten},
	}}
	var buf bytes.Buffer
	if err := writeOffsets(&buf, g, false); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"GROUP  TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST        CLIENT-ID\n" +
		"g      orders  0          5               10              5    m1           /127.0.0.1  c\n" +
		"g      orders  1          -               10              -    -            -           -\n"
	if buf.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := writeOffsets(&buf, g, true); err != nil {
		t.Fatal(err)
	}
	rows := tableRows(t, buf.String())
	if rows[0]["LEADER-EPOCH"] != "3" || rows[1]["LEADER-EPOCH"] != "-" || rows[0]["CURRENT-OFFSET"] != "5" {
		t.Fatalf("verbose:\n%s", buf.String())
	}
}

func TestMembersView(t *testing.T) {
	static := "instance-1"
	g := groupInfo{Name: "g", State: "Stable", Members: []memberInfo{
		{ID: "m1", InstanceID: &static, Host: "/h1", ClientID: "c1", Assignment: []topicAssignment{
			{Topic: "a", Partitions: []int32{0, 2}}, {Topic: "b", Partitions: []int32{1}},
		}},
		{ID: "m2", Host: "/h2", ClientID: "c2"},
	}}
	res := memberRows(g)
	if res.Members[1].Assignment == nil || res.Members[0].Partitions != 3 || res.Members[1].Partitions != 0 {
		t.Fatalf("member rows: %+v", res)
	}
	var buf bytes.Buffer
	if err := writeMembers(&buf, res, true); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"GROUP  CONSUMER-ID  GROUP-INSTANCE-ID  HOST  CLIENT-ID  #PARTITIONS  ASSIGNMENT\n" +
		"g      m1           instance-1         /h1   c1         3            a(0,2), b(1)\n" +
		"g      m2           -                  /h2   c2         0            -\n"
	if buf.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", buf.String(), want)
	}

	// Without static members or --verbose: Kafka's five columns.
	res.Members[0].GroupInstanceID = nil
	buf.Reset()
	if err := writeMembers(&buf, res, false); err != nil {
		t.Fatal(err)
	}
	if h := strings.SplitN(buf.String(), "\n", 2)[0]; h != "GROUP  CONSUMER-ID  HOST  CLIENT-ID  #PARTITIONS" {
		t.Fatalf("header %q", h)
	}
}

func TestStateView(t *testing.T) {
	g := groupInfo{Name: "g", State: "Empty", ProtocolType: "consumer",
		Coordinator: kadm.BrokerDetail{NodeID: 2, Host: "broker-2", Port: 9092}}
	var buf bytes.Buffer
	if err := writeState(&buf, stateRow(g)); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"GROUP  COORDINATOR (ID)   ASSIGNMENT-STRATEGY  STATE  #MEMBERS\n" +
		"g      broker-2:9092 (2)  -                    Empty  0\n"
	if buf.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestParseStates(t *testing.T) {
	got, err := parseStates([]string{"stable, EMPTY", "Stable", "preparingrebalance"})
	if err != nil || !slices.Equal(got, []string{"Stable", "Empty", "PreparingRebalance"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := parseStates(nil); err != nil || got != nil {
		t.Fatalf("no filter: %v, %v", got, err)
	}
	if _, err := parseStates([]string{"Sleeping"}); err == nil {
		t.Fatal("accepted an unknown state")
	}
}

func TestInactive(t *testing.T) {
	for state, want := range map[string]bool{
		"Empty": true, "Dead": true, "Stable": false, "PreparingRebalance": false,
		"CompletingRebalance": false, "Assigning": false, "Reconciling": false, "": false,
	} {
		if inactive(state) != want {
			t.Errorf("inactive(%q) = %v, want %v", state, !want, want)
		}
	}
}
