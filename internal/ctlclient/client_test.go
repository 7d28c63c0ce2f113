package ctlclient

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Requests round-trip at the version set on them, flexible or not, with
// ApiVersions' v0 response header, and carry the node's client id.
func TestRequestRoundTrip(t *testing.T) {
	f := newFake(t, func(_ int, req kmsg.Request) (kmsg.Response, action) {
		switch r := req.(type) {
		case *kmsg.BrokerHeartbeatRequest:
			resp := kmsg.NewPtrBrokerHeartbeatResponse()
			resp.IsFenced = r.BrokerEpoch != 42
			resp.ThrottleMillis = 7
			return resp, answer
		case *kmsg.ApiVersionsRequest:
			resp := kmsg.NewPtrApiVersionsResponse()
			k := kmsg.NewApiVersionsResponseApiKey()
			k.ApiKey, k.MaxVersion = 63, 1
			resp.ApiKeys = append(resp.ApiKeys, k)
			return resp, answer
		case *kmsg.CreateTopicsRequest:
			resp := kmsg.NewPtrCreateTopicsResponse()
			for _, rt := range r.Topics {
				tp := kmsg.NewCreateTopicsResponseTopic()
				tp.Topic = rt.Topic
				tp.ErrorCode = kerr.TopicAlreadyExists.Code
				resp.Topics = append(resp.Topics, tp)
			}
			return resp, answer
		}
		return req.ResponseKind(), answer
	})
	c := newClient(t, Config{Voters: []metadata.Voter{{ID: 1, Addr: f.addr()}}})

	tests := []struct {
		name  string
		req   func() kmsg.Request
		check func(t *testing.T, resp kmsg.Response)
	}{
		{"BrokerHeartbeat v1 (flexible)", func() kmsg.Request { return heartbeat() }, func(t *testing.T, resp kmsg.Response) {
			r := resp.(*kmsg.BrokerHeartbeatResponse)
			if r.IsFenced || r.ThrottleMillis != 7 {
				t.Fatalf("response %+v", r)
			}
		}},
		{"ApiVersions v3 (v0 response header)", func() kmsg.Request {
			r := kmsg.NewPtrApiVersionsRequest()
			r.SetVersion(3)
			r.ClientSoftwareName, r.ClientSoftwareVersion = "samsa", "1"
			return r
		}, func(t *testing.T, resp kmsg.Response) {
			r := resp.(*kmsg.ApiVersionsResponse)
			if len(r.ApiKeys) != 1 || r.ApiKeys[0].ApiKey != 63 {
				t.Fatalf("response %+v", r)
			}
		}},
		{"CreateTopics v7 (flexible)", func() kmsg.Request { return createTopics("orders") }, func(t *testing.T, resp kmsg.Response) {
			r := resp.(*kmsg.CreateTopicsResponse)
			if len(r.Topics) != 1 || r.Topics[0].Topic != "orders" || r.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code {
				t.Fatalf("response %+v", r)
			}
		}},
		{"CreateTopics v4 (not flexible)", func() kmsg.Request {
			r := createTopics("v4")
			r.SetVersion(4)
			return r
		}, func(t *testing.T, resp kmsg.Response) {
			r := resp.(*kmsg.CreateTopicsResponse)
			if r.GetVersion() != 4 || len(r.Topics) != 1 || r.Topics[0].Topic != "v4" {
				t.Fatalf("response %+v", r)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			resp, err := c.Request(ctxFor(t, 5*time.Second), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Key() != req.Key() || resp.GetVersion() != req.GetVersion() {
				t.Fatalf("response key %d v%d for request key %d v%d", resp.Key(), resp.GetVersion(), req.Key(), req.GetVersion())
			}
			tc.check(t, resp)
			got := f.last()
			if got.clientID != "samsa-node-3" || got.req.GetVersion() != req.GetVersion() {
				t.Fatalf("server saw client id %q, version %d", got.clientID, got.req.GetVersion())
			}
		})
	}
	// Sequential requests share one connection.
	if d := f.dialCount(); d != 1 {
		t.Fatalf("%d connections for sequential requests, want 1", d)
	}
}

func TestRequestFollowsLeader(t *testing.T) {
	a, b := newFake(t, okHandler), newFake(t, okHandler)
	var mu sync.Mutex
	leader := a.addr()
	c := newClient(t, Config{Leader: leaderAt(&leader, &mu), Voters: []metadata.Voter{{ID: 2, Addr: b.addr()}}})
	for range 3 {
		if _, err := c.Request(ctxFor(t, 5*time.Second), heartbeat()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	leader = b.addr()
	mu.Unlock()
	if _, err := c.Request(ctxFor(t, 5*time.Second), heartbeat()); err != nil {
		t.Fatal(err)
	}
	if a.count() != 3 || b.count() != 1 {
		t.Fatalf("requests: old leader %d, new leader %d; want 3 and 1", a.count(), b.count())
	}
	// No leader known: the voters.
	mu.Lock()
	leader = ""
	mu.Unlock()
	if _, err := c.Request(ctxFor(t, 5*time.Second), heartbeat()); err != nil {
		t.Fatal(err)
	}
	if b.count() != 2 {
		t.Fatalf("voter got %d requests, want 2", b.count())
	}
}

// A leader address that refuses connections makes the client go through
// the voters until one answers.
func TestDeadLeaderFallsBackToVoters(t *testing.T) {
	live := newFake(t, okHandler)
	var mu sync.Mutex
	dead := closedAddr(t)
	c := newClient(t, Config{
		Leader: leaderAt(&dead, &mu),
		Voters: []metadata.Voter{{ID: 1, Addr: dead}, {ID: 2, Addr: closedAddr(t)}, {ID: 3, Addr: live.addr()}},
	})
	start := time.Now()
	if _, err := c.Request(ctxFor(t, 10*time.Second), heartbeat()); err != nil {
		t.Fatal(err)
	}
	t.Logf("answered by a voter after %v", time.Since(start))
	if live.count() != 1 {
		t.Fatalf("live voter got %d requests", live.count())
	}
}

// A connection that breaks mid-request is re-dialled and the request
// retried until it is answered.
func TestRetryOnTransportError(t *testing.T) {
	f := newFake(t, func(n int, req kmsg.Request) (kmsg.Response, action) {
		if n < 2 {
			return nil, hangUp
		}
		return req.ResponseKind(), answer
	})
	c := newClient(t, Config{Voters: []metadata.Voter{{ID: 1, Addr: f.addr()}}})
	if _, err := c.Request(ctxFor(t, 10*time.Second), heartbeat()); err != nil {
		t.Fatal(err)
	}
	if f.count() != 3 || f.dialCount() != 3 {
		t.Fatalf("server saw %d requests on %d connections, want 3 and 3", f.count(), f.dialCount())
	}
}

// An idle connection the controller closed (say, it restarted) is
// replaced at once, at the same address, not counted as a dead leader.
func TestStaleIdleConnection(t *testing.T) {
	f := newFake(t, func(_ int, req kmsg.Request) (kmsg.Response, action) {
		return req.ResponseKind(), answerAndHangUp
	})
	var mu sync.Mutex
	leader := f.addr()
	c := newClient(t, Config{Leader: leaderAt(&leader, &mu), Voters: []metadata.Voter{{ID: 9, Addr: closedAddr(t)}}})
	for i := range 3 {
		start := time.Now()
		if _, err := c.Request(ctxFor(t, 5*time.Second), heartbeat()); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("request %d took %v", i, d)
		}
	}
	if f.count() != 3 {
		t.Fatalf("server saw %d requests", f.count())
	}
}

func TestContextEnds(t *testing.T) {
	f := newFake(t, func(int, kmsg.Request) (kmsg.Response, action) { return nil, silent })
	c := newClient(t, Config{Voters: []metadata.Voter{{ID: 1, Addr: f.addr()}}})

	start := time.Now()
	_, err := c.Request(ctxFor(t, 200*time.Millisecond), heartbeat())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("returned %v after a 200 ms deadline", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Request(ctx, heartbeat())
		done <- err
	}()
	waitCount(t, f, 2)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancel: err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Request did not return after cancel")
	}

	// Nothing to dial: retried until the context ends.
	empty := newClient(t, Config{})
	if _, err := empty.Request(ctxFor(t, 100*time.Millisecond), heartbeat()); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrNoController) {
		t.Fatalf("no addresses: err = %v", err)
	}
}

func waitCount(t *testing.T, f *fakeController, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("server saw %d requests, want %d", f.count(), n)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

func TestRequestUntil(t *testing.T) {
	f := newFake(t, func(n int, req kmsg.Request) (kmsg.Response, action) {
		resp := kmsg.NewPtrBrokerHeartbeatResponse()
		if n < 2 {
			resp.ErrorCode = kerr.NotController.Code
		}
		return resp, answer
	})
	c := newClient(t, Config{Voters: []metadata.Voter{{ID: 1, Addr: f.addr()}}})
	notController := func(resp kmsg.Response) bool { return errorCode(resp) == kerr.NotController.Code }
	resp, err := c.RequestUntil(ctxFor(t, 5*time.Second), heartbeat(), notController)
	if err != nil || errorCode(resp) != 0 || f.count() != 3 {
		t.Fatalf("RequestUntil: code %d, err %v, %d requests", errorCode(resp), err, f.count())
	}

	always := newFake(t, func(int, kmsg.Request) (kmsg.Response, action) {
		resp := kmsg.NewPtrBrokerHeartbeatResponse()
		resp.ErrorCode = kerr.NotController.Code
		return resp, answer
	})
	c2 := newClient(t, Config{Voters: []metadata.Voter{{ID: 1, Addr: always.addr()}}})
	resp, err = c2.RequestUntil(ctxFor(t, 300*time.Millisecond), heartbeat(), notController)
	if !errors.Is(err, context.DeadlineExceeded) || resp == nil || errorCode(resp) != kerr.NotController.Code {
		t.Fatalf("RequestUntil past the deadline: resp %v, err %v", resp, err)
	}
}

// A slow request does not hold back a quick one; at most MaxConnsPerAddr
// requests are in flight to one address.
func TestSlowRequestDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(_ int, req kmsg.Request) (kmsg.Response, action) {
		if _, ok := req.(*kmsg.CreateTopicsRequest); ok {
			<-release
		}
		return req.ResponseKind(), answer
	})
	c := newClient(t, Config{Voters: []metadata.Voter{{ID: 1, Addr: f.addr()}}})
	errs := make(chan error, MaxConnsPerAddr)
	slow := func() {
		_, err := c.Request(ctxFor(t, 10*time.Second), createTopics("slow"))
		errs <- err
	}
	go slow()
	waitCount(t, f, 1)
	start := time.Now()
	if _, err := c.Request(ctxFor(t, 2*time.Second), heartbeat()); err != nil {
		t.Fatalf("heartbeat behind a slow request: %v", err)
	}
	t.Logf("heartbeat answered in %v beside a slow request", time.Since(start))

	for range MaxConnsPerAddr - 1 {
		go slow()
	}
	waitCount(t, f, 1+MaxConnsPerAddr)
	if _, err := c.Request(ctxFor(t, 200*time.Millisecond), heartbeat()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a fifth request with four in flight: %v", err)
	}
	if d := f.dialCount(); d != MaxConnsPerAddr {
		t.Fatalf("%d connections, want %d", d, MaxConnsPerAddr)
	}
	close(release)
	for range MaxConnsPerAddr {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestBadResponses(t *testing.T) {
	for _, act := range []action{badCorr, huge} {
		f := newFake(t, func(int, kmsg.Request) (kmsg.Response, action) {
			return kmsg.NewPtrBrokerHeartbeatResponse(), act
		})
		c := newClient(t, Config{Voters: []metadata.Voter{{ID: 1, Addr: f.addr()}}})
		if _, err := c.Request(ctxFor(t, 5*time.Second), heartbeat()); !errors.Is(err, ErrBadResponse) {
			t.Fatalf("action %d: err = %v", act, err)
		}
		if f.count() != 1 {
			t.Fatalf("action %d: bad response retried (%d requests)", act, f.count())
		}
	}
	bad := []struct {
		name string
		body []byte
	}{
		{"short", []byte{0, 0}},
		{"tag count beyond the frame", []byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"truncated body", []byte{0, 0, 0, 1, 0}},
	}
	for _, tc := range bad {
		if _, err := DecodeResponse(heartbeat(), 1, tc.body); !errors.Is(err, ErrBadResponse) {
			t.Fatalf("%s: err = %v", tc.name, err)
		}
	}
}

func TestLocal(t *testing.T) {
	f := newFake(t, okHandler)
	var mu sync.Mutex
	local := true
	c := newClient(t, Config{
		Voters: []metadata.Voter{{ID: 1, Addr: f.addr()}},
		Local: func(_ context.Context, req kmsg.Request) (kmsg.Response, bool, error) {
			mu.Lock()
			defer mu.Unlock()
			if !local {
				return nil, false, nil
			}
			resp := kmsg.NewPtrBrokerHeartbeatResponse()
			resp.ThrottleMillis = 1
			return resp, true, nil
		},
	})
	resp, err := c.Request(ctxFor(t, 5*time.Second), heartbeat())
	if err != nil || resp.(*kmsg.BrokerHeartbeatResponse).ThrottleMillis != 1 || f.count() != 0 {
		t.Fatalf("local: %v %v, %d remote requests", resp, err, f.count())
	}
	mu.Lock()
	local = false
	mu.Unlock()
	if _, err := c.Request(ctxFor(t, 5*time.Second), heartbeat()); err != nil || f.count() != 1 {
		t.Fatalf("remote: %v, %d remote requests", err, f.count())
	}
}

func TestClose(t *testing.T) {
	f := newFake(t, func(int, kmsg.Request) (kmsg.Response, action) { return nil, silent })
	c := newClient(t, Config{Voters: []metadata.Voter{{ID: 1, Addr: f.addr()}}})
	done := make(chan error, 1)
	go func() {
		_, err := c.Request(context.Background(), heartbeat())
		done <- err
	}()
	waitCount(t, f, 1)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("in flight: err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt the request")
	}
	if _, err := c.Request(context.Background(), heartbeat()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: err = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// Against a real metadata node: the request goes through its controller
// listener, found by LeaderAddr, from the configured source IP.
func TestAgainstMetadataNode(t *testing.T) {
	n, err := metadata.Open(metadata.NodeConfig{NodeID: 1, Dir: t.TempDir(), BindAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	f := serveFake(t, n.ControllerAPIListener(), false, okHandler)
	if err := n.WaitReady(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{NodeID: 2, Leader: n.LeaderAddr, SourceAddr: "127.0.0.12"})
	if _, err := c.Request(ctxFor(t, 5*time.Second), heartbeat()); err != nil {
		t.Fatal(err)
	}
	got := f.last()
	if ip := got.remote.(*net.TCPAddr).IP.String(); ip != "127.0.0.12" || got.clientID != "samsa-node-2" {
		t.Fatalf("request from %s with client id %q", ip, got.clientID)
	}
}
