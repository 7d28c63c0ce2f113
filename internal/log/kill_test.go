package log

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

const killChildEnv = "SAMSA_LOG_KILL_CHILD_DIR"

func killTestConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 10 // roll often
	cfg.FsyncOnAck = true
	return cfg
}

// Bounds of TestKillChildProcess: each round kills the child after
// killTarget acknowledged offsets or killRoundTime, whichever comes first
// (a slow disk acknowledges fewer), so the test takes a few seconds at
// most; a child left behind exits by itself after killChildLifetime.
const (
	killTarget        = 3000
	killRoundTime     = 3 * time.Second
	killChildLifetime = 20 * time.Second
)

// TestKillChildProcess runs a child process that appends with
// fsync-on-ack and prints each acknowledged offset, SIGKILLs it, and
// reopens the log: every acknowledged offset is there, offsets are dense
// and the indexes agree with a scan. Three rounds on the same log (one
// with -short).
func TestKillChildProcess(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	dir := t.TempDir()
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	var lastAcked int64 = -1
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChildProcess$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := make(chan int64, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
					if n, err := strconv.ParseInt(v, 10, 64); err == nil {
						acked <- n
					}
				}
			}
			close(acked)
		}()
		before := lastAcked
		target, deadline := lastAcked+killTarget, time.After(killRoundTime)
	wait:
		for {
			select {
			case n, ok := <-acked:
				if !ok {
					break wait
				}
				lastAcked = max(lastAcked, n)
				if lastAcked >= target {
					break wait
				}
			case <-deadline:
				break wait
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for n := range acked { // acks printed before the kill count too
			lastAcked = max(lastAcked, n)
		}
		_ = cmd.Wait()
		if lastAcked <= before {
			t.Fatalf("round %d: the child acknowledged nothing in %v", round, killRoundTime)
		}
		l := openLog(t, vfs.OS{}, dir, killTestConfig())
		if l.LogEndOffset() <= lastAcked {
			t.Fatalf("round %d: log ends at %d, offset %d was acknowledged", round, l.LogEndOffset(), lastAcked)
		}
		readAllBatches(t, l)
		checkIndexes(t, l)
		t.Logf("round %d: %d acknowledged, log end %d, %d segments", round, lastAcked+1, l.LogEndOffset(), l.SegmentCount())
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// killChild appends until killed (or for at most killChildLifetime).
func killChild(dir string) {
	l, err := Open(vfs.OS{}, dir, killTestConfig())
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	stop := time.Now().Add(killChildLifetime)
	for i := 0; time.Now().Before(stop); i++ {
		res, err := l.Append(simpleBatch(1+i%4, time.Now().UnixMilli(), 50+i%700), 1)
		if err != nil {
			fmt.Println("append:", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "acked %d\n", res.LastOffset)
		w.Flush()
	}
	os.Exit(0)
}
