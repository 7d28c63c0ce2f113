//go:build linux

package bench

import (
	"os"
	"strings"
	"testing"
)

func TestRealProcSelf(t *testing.T) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseStatCPU(data); err != nil {
		t.Fatalf("parse real /proc/self/stat %q: %v", strings.TrimSpace(string(data)), err)
	}
	if hz := clockTicks(); hz != 100 {
		t.Logf("CLK_TCK is %d", hz) // 100 on every mainstream kernel; not an error
	}
	before, err := cpuSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	burnCPU()
	after, err := cpuSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after < before || after <= 0 {
		t.Fatalf("cpu seconds went from %v to %v", before, after)
	}
	rss, hwm, err := memKB(os.Getpid())
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("memKB: rss %d hwm %d err %v", rss, hwm, err)
	}

	m, err := startBrokerMonitor([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	burnCPU()
	st, err := m.finish()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPUSeconds < 0 || st.PeakRSSMB <= 0 || st.HWMMB < st.PeakRSSMB-1 {
		t.Fatalf("monitor stats %+v", st)
	}
	if _, err := startBrokerMonitor([]int{1 << 30}); err == nil {
		t.Fatal("monitoring a missing pid did not fail")
	}
	if m, err := startBrokerMonitor(nil); m != nil || err != nil {
		t.Fatalf("no pids: %v %v", m, err)
	}
}

// burnCPU spins for a bounded number of iterations (tens of milliseconds).
func burnCPU() {
	x := uint64(1)
	for i := range 50_000_000 {
		x = x*6364136223846793005 + uint64(i)
	}
	sink = x
}

var sink uint64
