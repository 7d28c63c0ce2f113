package bench

import (
	"testing"
	"time"
)

func TestPacerDelay(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		rate float64
		at   time.Duration // since start
		sent int64
		want time.Duration
	}{
		{"unlimited", 0, 0, 1_000_000, 0},
		{"first record at once", 1000, 0, 0, 0},
		{"second record after 1ms", 1000, 0, 1, time.Millisecond},
		{"on schedule", 20000, time.Second, 20000, 0},
		{"ahead of schedule waits", 20000, 500 * time.Millisecond, 20000, 500 * time.Millisecond},
		{"behind schedule is overdue", 100, 2 * time.Second, 100, -time.Second},
		{"fractional rate", 0.5, 0, 1, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pacer{start: start, rate: tc.rate}
			if got := p.delay(start.Add(tc.at), tc.sent); got != tc.want {
				t.Fatalf("delay = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPacerWaitStops(t *testing.T) {
	p := pacer{start: time.Now(), rate: 0.001} // record 1 is due in 1000 s
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	stop := make(chan struct{})
	close(stop)
	if p.wait(1, timer, stop) {
		t.Fatal("wait returned true although stop was closed")
	}
	if !p.wait(0, timer, stop) {
		t.Fatal("record 0 is due at once")
	}
}
