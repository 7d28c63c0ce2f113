package bench

import (
	"encoding/binary"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	rest := " S 1 2 3 4 5 6 7 8 9 10 1234 567 0 0 20 0 1 0 100 2000 300"
	for _, tc := range []struct {
		name string
		stat string
		want uint64
		err  bool
	}{
		{"plain", "42 (samsa)" + rest, 1801, false},
		{"spaces and parens in comm", "42 (my (odd) proc )" + rest, 1801, false},
		{"no parens", "42 samsa" + rest, 0, true},
		{"truncated", "42 (samsa) S 1 2 3", 0, true},
		{"bad utime", "42 (samsa) S 1 2 3 4 5 6 7 8 9 10 x 567 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("got %d, %v; want %d, err %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseStatusMem(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    string
		rss, hwm  int64
		expectErr bool
	}{
		{"both", "Name:\tsamsa\nVmHWM:\t  20480 kB\nVmRSS:\t  10240 kB\nThreads:\t9\n", 10240, 20480, false},
		{"kernel thread", "Name:\tkthreadd\nThreads:\t1\n", 0, 0, false},
		{"bad number", "VmRSS:\tlots kB\n", 0, 0, true},
		{"bad unit", "VmRSS:\t1 MB\n", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rss, hwm, err := parseStatusMem([]byte(tc.status))
			if (err != nil) != tc.expectErr || rss != tc.rss || hwm != tc.hwm {
				t.Fatalf("got %d %d %v", rss, hwm, err)
			}
		})
	}
}

func TestParseAuxvClockTicks(t *testing.T) {
	vec := func(words ...uint64) []byte {
		b := make([]byte, 8*len(words))
		for i, w := range words {
			binary.NativeEndian.PutUint64(b[8*i:], w)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		auxv []byte
		want int64
	}{
		{"found", vec(6, 4096, atClkTck, 100, 0, 0), 100},
		{"after AT_NULL ignored", vec(6, 4096, 0, 0, atClkTck, 250), 0},
		{"absent", vec(6, 4096), 0},
		{"truncated", vec(6, 4096, atClkTck)[:20], 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseAuxvClockTicks(tc.auxv, 8); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}
