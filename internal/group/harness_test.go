package group

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeTopics is a fixed topic list for tests.
type fakeTopics map[string]int32

func (f fakeTopics) Topic(name string) ([16]byte, int32, bool) {
	n, ok := f[name]
	return topicID(name), n, ok
}

func (f fakeTopics) TopicByID(id [16]byte) (string, int32, bool) {
	for name, n := range f {
		if topicID(name) == id {
			return name, n, true
		}
	}
	return "", 0, false
}

func (f fakeTopics) Names() []string {
	var out []string
	for name := range f {
		out = append(out, name)
	}
	return out
}

func topicID(name string) [16]byte {
	var id [16]byte
	copy(id[:], name)
	id[15] = 1
	return id
}

// harness drives one Group like its shard would, with a fake clock, and
// records what it answers and writes.
type harness struct {
	t       *testing.T
	cfg     Config
	g       *Group
	now     time.Time
	next    RequestID
	replies map[RequestID]kmsg.Response
	written []Record
	// hold, when set, keeps writes pending in held instead of completing
	// them at once.
	hold bool
	held []func(time.Time, error) Effects
	ids  int
}

func newHarness(t *testing.T, tune func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, now: time.Unix(1_700_000_000, 0), replies: map[RequestID]kmsg.Response{}}
	cfg := DefaultConfig()
	cfg.Topics = fakeTopics{"t": 6, "u": 3}
	cfg.NewMemberID = func(clientID string) string {
		h.ids++
		return fmt.Sprintf("%s-%d", clientID, h.ids)
	}
	if tune != nil {
		tune(&cfg)
	}
	h.cfg = cfg.withDefaults()
	h.cfg.Now = func() time.Time { return h.now }
	h.g = newGroup("g", &h.cfg, h.now)
	return h
}

// apply records a step's effects; writes complete at once unless held.
func (h *harness) apply(eff Effects) {
	for _, r := range eff.Replies {
		if _, dup := h.replies[r.To]; dup {
			h.t.Fatalf("request %d answered twice", r.To)
		}
		h.replies[r.To] = r.Msg
	}
	if len(eff.Records) == 0 {
		return
	}
	h.written = append(h.written, eff.Records...)
	then := eff.Then
	if then == nil {
		then = ignoreStoreError
	}
	if h.hold {
		h.held = append(h.held, then)
		return
	}
	h.apply(then(h.now, nil))
}

// release completes held writes with err.
func (h *harness) release(err error) {
	held := h.held
	h.held = nil
	for _, then := range held {
		h.apply(then(h.now, err))
	}
}

func (h *harness) id() RequestID {
	h.next++
	return h.next
}

// advance moves the clock and runs the group's timers.
func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.apply(h.g.Tick(h.now))
}

type joinOpts struct {
	member, instance, client string
	version                  int16
	session, rebalance       time.Duration
	protocols                []string
	metadata                 string
}

func (h *harness) join(o joinOpts) RequestID {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = o.version
	if req.Version == 0 {
		req.Version = 5
	}
	req.Group, req.MemberID, req.ProtocolType = "g", o.member, "consumer"
	if o.instance != "" {
		req.InstanceID = &o.instance
	}
	req.SessionTimeoutMillis = int32(orDuration(o.session, 10*time.Second) / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(orDuration(o.rebalance, 30*time.Second) / time.Millisecond)
	if o.protocols == nil {
		o.protocols = []string{"range"}
	}
	for _, p := range o.protocols {
		req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: []byte(o.metadata)})
	}
	client := o.client
	if client == "" {
		client = "c"
	}
	id := h.id()
	h.apply(h.g.Join(h.now, req, Client{ID: client, Host: "/127.0.0.1"}, id))
	return id
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// joinNew does the KIP-394 dance and returns the parked join and member id.
func (h *harness) joinNew(o joinOpts) (RequestID, string) {
	h.t.Helper()
	first := h.join(o)
	resp := h.joinReply(first)
	if resp.ErrorCode != kerr.MemberIDRequired.Code {
		h.t.Fatalf("first join: error %d, want MEMBER_ID_REQUIRED", resp.ErrorCode)
	}
	o.member = resp.MemberID
	return h.join(o), resp.MemberID
}

func (h *harness) sync(member string, gen int32, assignments map[string]string) RequestID {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation = "g", member, gen
	for m, a := range assignments {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	id := h.id()
	h.apply(h.g.Sync(h.now, req, id))
	return id
}

func (h *harness) heartbeat(member string, gen int32) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = "g", member, gen
	id := h.id()
	h.apply(h.g.Heartbeat(h.now, req, id))
	return h.replies[id].(*kmsg.HeartbeatResponse).ErrorCode
}

func (h *harness) joinReply(id RequestID) *kmsg.JoinGroupResponse {
	h.t.Helper()
	r, ok := h.replies[id]
	if !ok {
		h.t.Fatalf("join %d: no answer yet", id)
	}
	return r.(*kmsg.JoinGroupResponse)
}

func (h *harness) syncReply(id RequestID) *kmsg.SyncGroupResponse {
	h.t.Helper()
	r, ok := h.replies[id]
	if !ok {
		h.t.Fatalf("sync %d: no answer yet", id)
	}
	return r.(*kmsg.SyncGroupResponse)
}

func (h *harness) parked(id RequestID) {
	h.t.Helper()
	if r, ok := h.replies[id]; ok {
		h.t.Fatalf("request %d answered (%T %+v), want it parked", id, r, r)
	}
}

func (h *harness) state(want State) {
	h.t.Helper()
	if h.g.state != want {
		h.t.Fatalf("state %s, want %s", h.g.state, want)
	}
}

func (h *harness) code(got int16, want *kerr.Error) {
	h.t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		h.t.Fatalf("error %v, want %v", kerr.ErrorForCode(got), want)
	}
}

// stable brings n dynamic members to a Stable group and returns their ids
// in join order (the first is the leader).
func (h *harness) stable(n int) []string {
	h.t.Helper()
	var joins []RequestID
	var ids []string
	for i := 0; i < n; i++ {
		j, id := h.joinNew(joinOpts{client: fmt.Sprintf("c%d", i)})
		joins, ids = append(joins, j), append(ids, id)
	}
	h.advance(h.cfg.InitialRebalanceDelay)
	h.state(StateCompletingRebalance)
	gen := h.g.generation
	assign := map[string]string{}
	for _, id := range ids {
		assign[id] = "a-" + id
	}
	var syncs []RequestID
	for i, id := range ids {
		if h.joinReply(joins[i]).Generation != gen {
			h.t.Fatalf("member %s got generation %d, want %d", id, h.joinReply(joins[i]).Generation, gen)
		}
		if i == 0 {
			continue
		}
		syncs = append(syncs, h.sync(id, gen, nil))
	}
	syncs = append(syncs, h.sync(ids[0], gen, assign))
	for _, s := range syncs {
		h.code(h.syncReply(s).ErrorCode, nil)
	}
	h.state(StateStable)
	return ids
}
