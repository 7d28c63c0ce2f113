package wire

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, b *budget)
	}{{
		name: "acquire within capacity is immediate",
		run: func(t *testing.T, b *budget) {
			n1, _ := b.acquire(ctx, 60)
			n2, _ := b.acquire(ctx, 40)
			if n1 != 60 || n2 != 40 || b.inUse() != 100 {
				t.Fatalf("granted %d, %d; in use %d", n1, n2, b.inUse())
			}
		},
	}, {
		name: "oversized request is clamped and admitted alone",
		run: func(t *testing.T, b *budget) {
			n, err := b.acquire(ctx, 1000)
			if err != nil || n != 100 {
				t.Fatalf("granted %d, %v", n, err)
			}
			b.release(n)
			if b.inUse() != 0 {
				t.Fatalf("in use %d after release", b.inUse())
			}
		},
	}, {
		name: "waiters are admitted on release in FIFO order",
		run: func(t *testing.T, b *budget) {
			held, _ := b.acquire(ctx, 100)
			granted := make([]chan int64, 2)
			for i, n := range []int64{70, 50} {
				granted[i] = make(chan int64, 1)
				go func() { got, _ := b.acquire(ctx, n); granted[i] <- got }()
				waitFor(t, "waiter queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == i+1 })
			}
			b.release(held)
			if got := <-granted[0]; got != 70 {
				t.Fatalf("first waiter granted %d", got)
			}
			select {
			case <-granted[1]:
				t.Fatal("second waiter admitted beyond capacity")
			default:
			}
			b.release(70)
			if got := <-granted[1]; got != 50 {
				t.Fatalf("second waiter granted %d", got)
			}
		},
	}, {
		name: "cancelled waiter gives up and unblocks those behind it",
		run: func(t *testing.T, b *budget) {
			held, _ := b.acquire(ctx, 50)
			cctx, cancel := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() {
				_, err := b.acquire(cctx, 100) // blocks: needs everything
				errc <- err
			}()
			waitFor(t, "waiter queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
			small := make(chan int64, 1)
			go func() { n, _ := b.acquire(ctx, 10); small <- n }() // queued behind (FIFO)
			waitFor(t, "second waiter queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled acquire returned %v", err)
			}
			select {
			case n := <-small:
				if n != 10 {
					t.Fatalf("granted %d", n)
				}
			case <-time.After(testWait):
				t.Fatal("waiter behind a cancelled one was not admitted")
			}
			b.release(held)
			b.release(10)
			if b.inUse() != 0 {
				t.Fatalf("in use %d", b.inUse())
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newBudget(100)) })
	}
}
