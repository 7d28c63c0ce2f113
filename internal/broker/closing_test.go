package broker

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestClosingContext checks that the contexts of background requests to
// the controller (heartbeats, AlterPartition) end when the broker starts
// closing, so that Close never waits for a controller that is gone.
func TestClosingContext(t *testing.T) {
	tests := []struct {
		name  string
		d     time.Duration
		close bool
		want  error
	}{
		{name: "closing cancels", d: time.Minute, close: true, want: context.Canceled},
		{name: "timeout without closing", d: 10 * time.Millisecond, want: context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &Broker{closing: make(chan struct{})}
			ctx, cancel := b.closingContext(tc.d)
			defer cancel()
			if tc.close {
				close(b.closing)
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("context still open after 5 s")
			}
			if err := ctx.Err(); !errors.Is(err, tc.want) {
				t.Fatalf("ctx.Err() = %v, want %v", err, tc.want)
			}
		})
	}
}
