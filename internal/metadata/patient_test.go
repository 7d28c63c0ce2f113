package metadata

import (
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// freeAddr returns a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string { return freeAddrs(t, 1)[0] }

// newTCPTransport starts a raft TCP transport on addr, closed when the test
// ends.
func newTCPTransport(t *testing.T, addr string) *raft.NetworkTransport {
	t.Helper()
	tr, err := raft.NewTCPTransport(addr, nil, 2, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// answerAppends answers every AppendEntries that reaches tr with success.
func answerAppends(tr *raft.NetworkTransport) {
	go func() {
		for rpc := range tr.Consumer() {
			rpc.Respond(&raft.AppendEntriesResponse{Term: 7, Success: true}, nil)
		}
	}()
}

func TestPatientTransportWaitsForThePeer(t *testing.T) {
	target := freeAddr(t)
	done := make(chan struct{})
	p := &patientTransport{NetworkTransport: newTCPTransport(t, "127.0.0.1:0"), done: done, maxHold: 10 * time.Second}

	const downFor = 400 * time.Millisecond
	result := make(chan error, 1)
	var resp raft.AppendEntriesResponse
	start := time.Now()
	go func() {
		result <- p.AppendEntries("peer", raft.ServerAddress(target), &raft.AppendEntriesRequest{Term: 7}, &resp)
	}()
	time.Sleep(downFor)
	answerAppends(newTCPTransport(t, target)) // the peer comes back

	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("AppendEntries after the peer came back: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AppendEntries still waiting 5 s after the peer came back")
	}
	if took := time.Since(start); took < downFor {
		t.Errorf("AppendEntries returned after %v, before the peer was back", took)
	}
	if !resp.Success || resp.Term != 7 {
		t.Errorf("response = %+v, want the peer's success", resp)
	}
}

func TestPatientTransportGivesUp(t *testing.T) {
	tests := []struct {
		name    string
		maxHold time.Duration
		close   bool // close done while the call waits
		within  time.Duration
	}{
		{"after maxHold", 300 * time.Millisecond, false, 3 * time.Second},
		{"when the node closes", time.Hour, true, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			p := &patientTransport{NetworkTransport: newTCPTransport(t, "127.0.0.1:0"), done: done, maxHold: tt.maxHold}
			target := raft.ServerAddress(freeAddr(t))
			result := make(chan error, 1)
			start := time.Now()
			go func() {
				var resp raft.AppendEntriesResponse
				result <- p.AppendEntries("peer", target, &raft.AppendEntriesRequest{Term: 1}, &resp)
			}()
			if tt.close {
				time.Sleep(200 * time.Millisecond)
				close(done)
			}
			select {
			case err := <-result:
				if err == nil {
					t.Fatal("AppendEntries to a peer that never listens succeeded")
				}
				if took := time.Since(start); !tt.close && took < tt.maxHold {
					t.Errorf("gave up after %v, before maxHold %v", took, tt.maxHold)
				}
			case <-time.After(tt.within):
				t.Fatalf("AppendEntries still waiting after %v", tt.within)
			}
		})
	}
}
