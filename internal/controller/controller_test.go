package controller

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func TestRegisterBroker(t *testing.T) {
	c, m := newTestController(t, 0)
	reg := BrokerRegistration{NodeID: 1, Host: "h", Port: 9092, IncarnationID: [16]byte{1}}
	e1, err := c.RegisterBroker(ctx(), reg)
	if err != nil {
		t.Fatal(err)
	}
	// Same incarnation again: no new record, same epoch.
	n := m.proposals
	e2, err := c.RegisterBroker(ctx(), reg)
	if err != nil || e2 != e1 || m.proposals != n {
		t.Fatalf("re-register: epoch %d (was %d), err %v, %d new proposals", e2, e1, err, m.proposals-n)
	}
	// Restart: a new incarnation gets a newer epoch.
	reg.IncarnationID = [16]byte{2}
	e3, err := c.RegisterBroker(ctx(), reg)
	if err != nil || e3 <= e1 {
		t.Fatalf("new incarnation: epoch %d (was %d), err %v", e3, e1, err)
	}
	if b, _ := m.image().Broker(1); b.Epoch != e3 || b.IncarnationID != reg.IncarnationID {
		t.Fatalf("stored %+v", b)
	}

	for _, bad := range []BrokerRegistration{
		{NodeID: -1, Host: "h", Port: 1},
		{NodeID: 1, Port: 1},
		{NodeID: 1, Host: "h", Port: 0},
		{NodeID: 1, Host: "h", Port: 70000},
	} {
		_, err := c.RegisterBroker(ctx(), bad)
		if !errors.Is(err, kerr.InvalidRequest) {
			t.Errorf("RegisterBroker(%+v) = %v, want INVALID_REQUEST", bad, err)
		}
	}
	m.leaderErr = metadata.ErrNotController
	if _, err := c.RegisterBroker(ctx(), reg); !errors.Is(err, kerr.NotController) {
		t.Fatalf("err %v, want NOT_CONTROLLER", err)
	}
}

func TestAllocateProducerIDBlock(t *testing.T) {
	c, m := newTestController(t, 2)
	b1, _ := m.image().Broker(1)
	first, count, err := c.AllocateProducerIDBlock(ctx(), 1, b1.Epoch)
	if err != nil || first != 0 || count != 1000 {
		t.Fatalf("block 1: %d+%d %v", first, count, err)
	}
	first, count, err = c.AllocateProducerIDBlock(ctx(), 2, -1)
	if err != nil || first != 1000 || count != 1000 {
		t.Fatalf("block 2: %d+%d %v", first, count, err)
	}
	if m.image().NextProducerID() != 2000 {
		t.Fatalf("next %d", m.image().NextProducerID())
	}
	if _, _, err := c.AllocateProducerIDBlock(ctx(), 9, -1); !errors.Is(err, kerr.BrokerIDNotRegistered) {
		t.Fatalf("unregistered: %v", err)
	}
	if _, _, err := c.AllocateProducerIDBlock(ctx(), 1, b1.Epoch+100); !errors.Is(err, kerr.StaleBrokerEpoch) {
		t.Fatalf("stale epoch: %v", err)
	}
	var ce *Error
	if _, _, err := c.AllocateProducerIDBlock(ctx(), 1, b1.Epoch+100); !errors.As(err, &ce) || ce.Message == "" {
		t.Fatalf("error is not a *controller.Error with a message: %v", err)
	}

	// Exhaustion: a state whose next id is close to the int64 limit.
	c2, m2 := newTestController(t, 1)
	var buf bytes.Buffer
	if err := metadata.WriteSnapshot(&buf, m2.image()); err != nil {
		t.Fatal(err)
	}
	near := strings.Replace(buf.String(), `"next_producer_id":0`, fmt.Sprintf(`"next_producer_id":%d`, int64(math.MaxInt64-500)), 1)
	img, err := metadata.ReadSnapshot(strings.NewReader(near))
	if err != nil {
		t.Fatal(err)
	}
	m2.state = metadata.NewStateFrom(img)
	if _, _, err := c2.AllocateProducerIDBlock(ctx(), 1, -1); !errors.Is(err, kerr.UnknownServerError) {
		t.Fatalf("exhausted: %v", err)
	}
}

func TestErrorType(t *testing.T) {
	e := &Error{Code: kerr.NotController, Message: "x"}
	if !errors.Is(e, kerr.NotController) || errors.Is(e, kerr.InvalidRequest) {
		t.Fatal("errors.Is does not see the code")
	}
	if e.Error() == "" || (&Error{Code: kerr.NotController}).Error() != kerr.NotController.Message {
		t.Fatal("bad message")
	}
}
