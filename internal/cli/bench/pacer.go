package bench

import "time"

// minSleep is the shortest wait a producer sleeps for. A record due sooner
// than this goes out at once: sleeping for tens of microseconds costs more
// CPU than it saves and oversleeps anyway. Records therefore leave in small
// bursts (20 per millisecond at 20,000 records/s) while the average rate
// stays exact.
const minSleep = 500 * time.Microsecond

// pacer schedules records at a fixed rate: record i (0-based) is due at
// start + i/rate. A producer that falls behind (a blocked Produce call, a
// slow scheduler) catches up by sending the overdue records at once, so the
// rate over the run holds — the open-loop model a latency benchmark needs.
// A zero or negative rate means no limit.
type pacer struct {
	start time.Time
	rate  float64 // records per second
}

// delay returns how long to wait at now before record number sent may go;
// zero or less means it may go now.
func (p pacer) delay(now time.Time, sent int64) time.Duration {
	if p.rate <= 0 {
		return 0
	}
	due := p.start.Add(time.Duration(float64(sent) / p.rate * float64(time.Second)))
	return due.Sub(now)
}

// wait blocks until record number sent is due, or stop closes. It reports
// false when stopped. t is the caller's reusable timer (stopped, drained).
func (p pacer) wait(sent int64, t *time.Timer, stop <-chan struct{}) bool {
	d := p.delay(time.Now(), sent)
	if d < minSleep {
		return true
	}
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-stop:
		t.Stop()
		return false
	}
}
