package wire

import (
	"context"
	"sync"
)

// budget is a FIFO weighted semaphore counting bytes. A request for more than
// the capacity is clamped to the capacity, so it is admitted alone instead of
// never. Used for the bytes of frames a connection holds in flight and for
// the server-wide estimate of memory being decoded.
type budget struct {
	capacity int64

	mu sync.Mutex
	// Guarded by mu.
	used    int64
	waiters []*budgetWaiter // FIFO; the head is served first
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once granted
}

func newBudget(capacity int64) *budget {
	return &budget{capacity: max(capacity, 1)}
}

// acquire waits until n bytes (clamped to the capacity) are available or ctx
// is done. It returns the amount granted, which the caller passes to release.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 0), b.capacity)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.capacity {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted while we were giving up: hand it back
			b.used -= n
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
		}
		b.grantLocked()
		b.mu.Unlock()
		return 0, ctx.Err()
	}
}

// release returns n bytes obtained from acquire.
func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grantLocked()
	b.mu.Unlock()
}

// grantLocked admits waiters from the head of the queue while they fit.
func (b *budget) grantLocked() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.capacity {
			return
		}
		b.used += w.n
		close(w.ready)
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
	}
}

// inUse returns the bytes currently granted.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
