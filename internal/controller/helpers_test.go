package controller

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// memLog is a Log backed by a metadata.State, without Raft: proposals go
// through the real record codec and state machine.
type memLog struct {
	mu         sync.Mutex
	state      *metadata.State
	index      uint64
	leaderErr  error // returned by LeaderImage and Propose
	proposeErr error // returned by Propose only
	proposals  int
	// rejected counts proposals the state machine refused, with the
	// last refusal: the controller must never propose an invalid change.
	rejected    int
	lastReject  error
	proposedLog []metadata.Record
}

func newMemLog() *memLog { return &memLog{state: metadata.NewState()} }

func (m *memLog) LeaderImage(context.Context) (metadata.Image, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leaderErr != nil {
		return metadata.Image{}, m.leaderErr
	}
	return m.state.Image(), nil
}

func (m *memLog) Propose(_ context.Context, rec metadata.Record) (metadata.Image, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leaderErr != nil {
		return metadata.Image{}, m.leaderErr
	}
	if m.proposeErr != nil {
		return metadata.Image{}, m.proposeErr
	}
	data, err := metadata.EncodeRecord(rec)
	if err != nil {
		return metadata.Image{}, err
	}
	dec, err := metadata.DecodeRecord(data)
	if err != nil {
		return metadata.Image{}, err
	}
	m.proposals++
	m.index++
	m.proposedLog = append(m.proposedLog, dec)
	err = m.state.Apply(m.index, dec)
	if err != nil {
		m.rejected++
		m.lastReject = err
	}
	return m.state.Image(), err
}

// noRejects fails the test if a proposal was refused by the state.
func (m *memLog) noRejects(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rejected > 0 {
		t.Fatalf("%d proposal(s) rejected by the state machine, last: %v", m.rejected, m.lastReject)
	}
}

func (m *memLog) image() metadata.Image {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Image()
}

func (m *memLog) apply(t *testing.T, rec metadata.Record) {
	t.Helper()
	if _, err := m.Propose(context.Background(), rec); err != nil {
		t.Fatalf("apply %T: %v", rec, err)
	}
}

// newTestController returns a controller over a memLog with brokers
// registered and unfenced (ids 1..n).
func newTestController(t *testing.T, brokers int, mut ...func(*Config)) (*Controller, *memLog) {
	t.Helper()
	m := newMemLog()
	for id := 1; id <= brokers; id++ {
		m.apply(t, metadata.RegisterBroker{NodeID: int32(id), Host: "127.0.0.1", Port: int32(9090 + id)})
		b, _ := m.image().Broker(int32(id))
		m.apply(t, metadata.UnfenceBroker{NodeID: int32(id), Epoch: b.Epoch})
	}
	cfg := Config{Logger: discard()}
	for _, f := range mut {
		f(&cfg)
	}
	return New(m, cfg), m
}

func str(s string) *string { return &s }

// checkErr compares a Kafka error code and message.
func checkErr(t *testing.T, what string, got *kerr.Error, msg string, want *kerr.Error, wantMsg string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: error %v (%q), want %v", what, got, msg, want)
	}
	if wantMsg != "" && !strings.Contains(msg, wantMsg) {
		t.Fatalf("%s: message %q, want it to contain %q", what, msg, wantMsg)
	}
}

func ctx() context.Context { return context.Background() }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
