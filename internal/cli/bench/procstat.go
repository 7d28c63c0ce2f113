package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// procRoot is where the proc filesystem is mounted.
const procRoot = "/proc"

// maxProcFile bounds what is read from one /proc file; stat and status are
// a few KiB at most.
const maxProcFile = 64 << 10

// defaultClockTicks is USER_HZ on every Linux architecture Go supports; used
// when the auxiliary vector does not say.
const defaultClockTicks = 100

// atClkTck is the auxiliary vector tag of the clock tick rate (AT_CLKTCK).
const atClkTck = 17

// clockTicks returns the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat — sysconf(_SC_CLK_TCK) without cgo: glibc reads the same
// AT_CLKTCK entry of the auxiliary vector.
var clockTicks = sync.OnceValue(func() int64 {
	data, err := readProcFile(procRoot + "/self/auxv")
	if err != nil {
		return defaultClockTicks
	}
	if hz := parseAuxvClockTicks(data, strconv.IntSize/8); hz > 0 {
		return hz
	}
	return defaultClockTicks
})

// parseAuxvClockTicks finds AT_CLKTCK in an auxiliary vector of native-endian
// (tag, value) words of wordSize bytes; 0 when absent.
func parseAuxvClockTicks(data []byte, wordSize int) int64 {
	word := func(b []byte) uint64 {
		if wordSize == 4 {
			return uint64(binary.NativeEndian.Uint32(b))
		}
		return binary.NativeEndian.Uint64(b)
	}
	for len(data) >= 2*wordSize {
		tag, val := word(data[:wordSize]), word(data[wordSize:2*wordSize])
		data = data[2*wordSize:]
		if tag == 0 { // AT_NULL ends the vector
			break
		}
		if tag == atClkTck && val > 0 && val < 1<<20 {
			return int64(val)
		}
	}
	return 0
}

// readProcFile reads a small /proc file, at most maxProcFile bytes.
func readProcFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, maxProcFile)
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
	}
	return buf[:n], nil
}

// parseStatCPU returns utime+stime (clock ticks) from the contents of
// /proc/PID/stat. The command name (field 2) is in parentheses and may hold
// spaces and parentheses itself, so fields are counted from the last ')'.
func parseStatCPU(data []byte) (uint64, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	// After ')' come field 3 (state) onwards; utime and stime are fields 14
	// and 15, so the 12th and 13th here.
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	utime, err := strconv.ParseUint(string(fields[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	stime, err := strconv.ParseUint(string(fields[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return utime + stime, nil
}

// parseStatusMem returns VmRSS and VmHWM in KiB from the contents of
// /proc/PID/status; a missing line (a kernel thread, a zombie) reads as 0.
func parseStatusMem(data []byte) (rssKB, hwmKB int64, err error) {
	for line := range bytes.Lines(data) {
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst = &rssKB
		case "VmHWM":
			dst = &hwmKB
		default:
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0, 0, fmt.Errorf("%s: no value", key)
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || v < 0 {
			return 0, 0, fmt.Errorf("%s: bad value %q", key, f[0])
		}
		if len(f) > 1 && !bytes.EqualFold(f[1], []byte("kB")) {
			return 0, 0, fmt.Errorf("%s: unit %q, want kB", key, f[1])
		}
		*dst = v
	}
	return rssKB, hwmKB, nil
}

// cpuSeconds returns the user+system CPU time process pid has used.
func cpuSeconds(pid int) (float64, error) {
	data, err := readProcFile(fmt.Sprintf("%s/%d/stat", procRoot, pid))
	if err != nil {
		return 0, fmt.Errorf("bench: read cpu time of pid %d: %w", pid, err)
	}
	ticks, err := parseStatCPU(data)
	if err != nil {
		return 0, fmt.Errorf("bench: parse /proc/%d/stat: %w", pid, err)
	}
	return float64(ticks) / float64(clockTicks()), nil
}

// memKB returns the resident set size and its high-water mark of pid, KiB.
func memKB(pid int) (rssKB, hwmKB int64, err error) {
	data, err := readProcFile(fmt.Sprintf("%s/%d/status", procRoot, pid))
	if err != nil {
		return 0, 0, fmt.Errorf("bench: read memory of pid %d: %w", pid, err)
	}
	rssKB, hwmKB, err = parseStatusMem(data)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: parse /proc/%d/status: %w", pid, err)
	}
	return rssKB, hwmKB, nil
}

// rssSampleEvery is how often the monitor samples the brokers' VmRSS.
const rssSampleEvery = 200 * time.Millisecond

// brokerMonitor measures the broker processes named by --broker-pid over one
// run: CPU time (utime+stime) used between start and finish, and the peak of
// their summed resident set sizes sampled during the run. Its sampler
// goroutine is owned by the monitor and ends in finish.
type brokerMonitor struct {
	pids     []int
	cpuStart float64
	stop     chan struct{}
	done     chan struct{}

	mu        sync.Mutex // guards the fields below
	peakRSSKB int64
	sampleErr error
}

// brokerStats is what a brokerMonitor measured; all values are sums over
// the monitored processes.
type brokerStats struct {
	CPUSeconds float64
	// PeakRSSMB is the highest sampled VmRSS during the run, MiB.
	PeakRSSMB float64
	// HWMMB is VmHWM at the end: the peak RSS over the processes' lives, MiB.
	HWMMB float64
}

// startBrokerMonitor reads the starting CPU time of pids and starts sampling
// their RSS. With no pids it returns nil; a nil monitor's finish returns nil.
func startBrokerMonitor(pids []int) (*brokerMonitor, error) {
	if len(pids) == 0 {
		return nil, nil
	}
	m := &brokerMonitor{pids: pids, stop: make(chan struct{}), done: make(chan struct{})}
	cpu, err := m.cpu()
	if err != nil {
		return nil, err
	}
	m.cpuStart = cpu
	if err := m.sample(); err != nil {
		return nil, err
	}
	go m.run()
	return m, nil
}

func (m *brokerMonitor) cpu() (float64, error) {
	var sum float64
	for _, pid := range m.pids {
		s, err := cpuSeconds(pid)
		if err != nil {
			return 0, err
		}
		sum += s
	}
	return sum, nil
}

// sample reads the summed RSS once and raises the peak.
func (m *brokerMonitor) sample() error {
	var rss int64
	for _, pid := range m.pids {
		r, _, err := memKB(pid)
		if err != nil {
			return err
		}
		rss += r
	}
	m.mu.Lock()
	m.peakRSSKB = max(m.peakRSSKB, rss)
	m.mu.Unlock()
	return nil
}

func (m *brokerMonitor) run() {
	defer close(m.done)
	t := time.NewTicker(rssSampleEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if err := m.sample(); err != nil {
				m.mu.Lock()
				m.sampleErr = err
				m.mu.Unlock()
				return
			}
		}
	}
}

// finish stops sampling and returns what was measured.
func (m *brokerMonitor) finish() (*brokerStats, error) {
	if m == nil {
		return nil, nil
	}
	close(m.stop)
	<-m.done
	if err := m.sample(); err != nil {
		return nil, err
	}
	cpu, err := m.cpu()
	if err != nil {
		return nil, err
	}
	var hwm int64
	for _, pid := range m.pids {
		_, h, err := memKB(pid)
		if err != nil {
			return nil, err
		}
		hwm += h
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sampleErr != nil {
		return nil, m.sampleErr
	}
	return &brokerStats{
		CPUSeconds: cpu - m.cpuStart,
		PeakRSSMB:  float64(m.peakRSSKB) / 1024,
		HWMMB:      float64(hwm) / 1024,
	}, nil
}

// selfCPUSeconds returns this process's CPU time, or -1 when /proc is not
// available (the client CPU is then left out of the report).
func selfCPUSeconds() float64 {
	s, err := cpuSeconds(os.Getpid())
	if err != nil {
		return -1
	}
	return s
}
