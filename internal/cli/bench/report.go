package bench

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// mib is the "MB" of mb_per_sec and broker_rss_mb: 2^20 bytes, as Kafka's
// own perf tools count it.
const mib = 1 << 20

// ProduceResult is the summary `samsa bench produce` prints. The JSON keys
// are stable; scripts may rely on them. Broker and client fields are null
// when not measured.
type ProduceResult struct {
	// Records counts the records acknowledged without error.
	Records int64 `json:"records"`
	// Bytes is Records times the record size (record values only).
	Bytes int64 `json:"bytes"`
	// Seconds runs from the first Produce call to the last acknowledgement.
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	// Latencies run from the Produce call (including any time it blocked on
	// a full buffer) to the record's promise; milliseconds.
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	AvgMs  float64 `json:"avg_ms"`
	// Errors counts records whose promise reported an error.
	Errors int64 `json:"errors"`
	// FirstError is the first record error, "" when none.
	FirstError string `json:"first_error"`

	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
	Producers  int    `json:"producers"`
	Acks       string `json:"acks"`
	RecordSize int    `json:"record_size"`
	// TargetRate is --rate, 0 for as fast as possible.
	TargetRate float64 `json:"target_rate"`

	brokerFields
}

// ConsumeResult is the summary `samsa bench consume` prints; keys are
// stable.
type ConsumeResult struct {
	// Records counts the records read.
	Records int64 `json:"records"`
	// Bytes sums the records' key and value lengths.
	Bytes int64 `json:"bytes"`
	// Seconds runs from the first poll to the last record read.
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	// Errors counts fetch errors reported by the client.
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error"`

	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`

	brokerFields
}

// brokerFields are the process measurements both results carry.
type brokerFields struct {
	// BrokerCPUSeconds is the user+system CPU the --broker-pid processes
	// used during the run.
	BrokerCPUSeconds *float64 `json:"broker_cpu_seconds"`
	// BrokerRSSMB is the peak of their summed VmRSS sampled during the run
	// (every 200 ms), MiB.
	BrokerRSSMB *float64 `json:"broker_rss_mb"`
	// BrokerHWMMB is their summed VmHWM at the end (peak RSS over the
	// processes' lifetimes), MiB.
	BrokerHWMMB *float64 `json:"broker_hwm_mb"`
	// ClientCPUSeconds is the CPU this bench process used during the run.
	ClientCPUSeconds *float64 `json:"client_cpu_seconds"`
}

// setProcess fills the process fields from a monitor's stats and the
// client's CPU readings (negative when unavailable).
func (b *brokerFields) setProcess(s *brokerStats, clientStart, clientEnd float64) {
	if s != nil {
		b.BrokerCPUSeconds = ptr(round(s.CPUSeconds, 2))
		b.BrokerRSSMB = ptr(round(s.PeakRSSMB, 1))
		b.BrokerHWMMB = ptr(round(s.HWMMB, 1))
	}
	if clientStart >= 0 && clientEnd >= 0 {
		b.ClientCPUSeconds = ptr(round(clientEnd-clientStart, 2))
	}
}

// processColumns returns the measured process fields as table columns.
func (b *brokerFields) processColumns() (headers []string, cells []any) {
	add := func(h string, v *float64) {
		if v != nil {
			headers = append(headers, h)
			cells = append(cells, fmt.Sprintf("%.2f", *v))
		}
	}
	add("BROKER-CPU-S", b.BrokerCPUSeconds)
	add("BROKER-RSS-MB", b.BrokerRSSMB)
	add("CLIENT-CPU-S", b.ClientCPUSeconds)
	return headers, cells
}

func ptr[T any](v T) *T { return &v }

// round rounds v to digits decimals, so JSON shows 12.345 rather than
// 12.345000000000001.
func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// rates returns records/s and MiB/s over d, 0 for an empty interval.
func rates(records, bytes int64, d time.Duration) (recsPerSec, mbPerSec float64) {
	s := d.Seconds()
	if s <= 0 {
		return 0, 0
	}
	return float64(records) / s, float64(bytes) / mib / s
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

// print writes the produce summary in format f.
func (r *ProduceResult) print(w io.Writer, f format.Format) error {
	return format.Print(w, f, r, func(w io.Writer) error {
		h := []string{"TOPIC", "RECORDS", "SECONDS", "RECORDS/S", "MB/S", "P50-MS", "P99-MS", "P999-MS", "MAX-MS", "ERRORS"}
		row := []any{r.Topic, r.Records, fmt.Sprintf("%.3f", r.Seconds), fmt.Sprintf("%.0f", r.RecordsPerSec),
			fmt.Sprintf("%.2f", r.MBPerSec), fmt.Sprintf("%.3f", r.P50Ms), fmt.Sprintf("%.3f", r.P99Ms),
			fmt.Sprintf("%.3f", r.P999Ms), fmt.Sprintf("%.3f", r.MaxMs), r.Errors}
		ph, pc := r.processColumns()
		t := format.NewTable(append(h, ph...)...)
		t.Row(append(row, pc...)...)
		if err := t.Write(w); err != nil {
			return err
		}
		if r.FirstError != "" {
			_, err := fmt.Fprintf(w, "first error: %s\n", r.FirstError)
			return err
		}
		return nil
	})
}

// print writes the consume summary in format f.
func (r *ConsumeResult) print(w io.Writer, f format.Format) error {
	return format.Print(w, f, r, func(w io.Writer) error {
		h := []string{"TOPIC", "RECORDS", "SECONDS", "RECORDS/S", "MB/S", "ERRORS"}
		row := []any{r.Topic, r.Records, fmt.Sprintf("%.3f", r.Seconds), fmt.Sprintf("%.0f", r.RecordsPerSec),
			fmt.Sprintf("%.2f", r.MBPerSec), r.Errors}
		ph, pc := r.processColumns()
		t := format.NewTable(append(h, ph...)...)
		t.Row(append(row, pc...)...)
		if err := t.Write(w); err != nil {
			return err
		}
		if r.FirstError != "" {
			_, err := fmt.Fprintf(w, "first error: %s\n", r.FirstError)
			return err
		}
		return nil
	})
}

// progress prints one line per interval to w (stderr) until stop closes;
// line returns the text for the time elapsed since the run started. Its
// goroutine is owned by the command's run function, which waits on the
// returned channel before printing the summary.
func progress(w io.Writer, every time.Duration, start time.Time, line func(elapsed time.Duration) string, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				fmt.Fprintln(w, line(now.Sub(start)))
			}
		}
	}()
	return done
}
