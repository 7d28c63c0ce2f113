package clienttest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

type reader = func(ctx context.Context, out chan<- int) error

// counting returns a reader that sends from, from+1, ... up to but not
// including to, then returns end (nil: it blocks until ctx ends).
func counting(from, to int, end error) reader {
	return func(ctx context.Context, out chan<- int) error {
		for i := from; i < to; i++ {
			if err := Send(ctx, out, i); err != nil {
				return err
			}
		}
		if end != nil {
			return end
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

func TestCollect(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		n       int
		readers []reader
		want    []int // sorted; nil: only check the error
		wantErr string
	}{
		{"enough from two readers", 6, []reader{counting(0, 3, nil), counting(10, 13, nil)}, []int{0, 1, 2, 10, 11, 12}, ""},
		{"stops unbounded readers", 4, []reader{counting(0, 1000, nil), counting(1000, 2000, nil)}, nil, ""},
		{"none wanted", 0, []reader{counting(0, 5, nil)}, []int{}, ""},
		{"reader fails", 5, []reader{counting(0, 2, boom)}, nil, "boom"},
		{"reader stops early", 5, []reader{func(context.Context, chan<- int) error { return nil }}, nil, "reader stopped early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			got, err := Collect(ctx, tc.n, tc.readers)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.n {
				t.Fatalf("got %d records, want %d", len(got), tc.n)
			}
			slices.Sort(got)
			if tc.want != nil && !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCollectContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The reader ends the context itself once both its records are taken.
	r := func(ctx context.Context, out chan<- int) error {
		if err := counting(0, 2, errors.New("unused"))(ctx, out); err.Error() != "unused" {
			return err
		}
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	got, err := Collect(ctx, 5, []reader{r})
	// Records still buffered when the context ends may or may not be taken.
	if !errors.Is(err, context.Canceled) || len(got) > 2 || !slices.Equal(got, []int{0, 1}[:len(got)]) {
		t.Fatalf("got %v, %v; want at most records 0 and 1 and a cancellation error", got, err)
	}
}

func TestSendContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Send(ctx, make(chan int), 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send on an ended context: %v", err)
	}
}

func TestCodecsCoverEveryName(t *testing.T) {
	for _, name := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		_, k := KgoCodecs[name]
		_, s := SaramaCodecs[name]
		_, g := KafkaGoCodecs[name]
		if !k || !s || !g {
			t.Errorf("codec %q: franz-go %v, sarama %v, kafka-go %v", name, k, s, g)
		}
	}
}
