package wire

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// franz-go, a real client, against the server: its ApiVersions handshake
// (v5 by default, newer than the v0..4 served, so it goes through the KIP-511
// fallback; or pinned lower), then pipelined Metadata requests.
func TestFranzGoClient(t *testing.T) {
	tests := []struct {
		name            string
		apiVersionsMax  int16 // registered ApiVersions max
		pinnedClientMax int16 // -1: the client's default (v5)
		fallback        bool  // wire answers ApiVersions; the handler never sees it
	}{
		{"default client v5 against v0..4: fallback answered by wire", 4, -1, true},
		{"client pinned to v3", 4, 3, false},
		{"client pinned to v0", 4, 0, false},
		{"client v5 against v0..5", 5, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := testRegistry()
			reg.Register(18, 0, tc.apiVersionsMax)
			var apiVersionsHandled, metadataHandled atomic.Int32
			h := &testHandler{hook: func(_ context.Context, req *Request) (*Response, error, bool) {
				switch req.Key {
				case 18:
					apiVersionsHandled.Add(1)
				case 3:
					metadataHandled.Add(1)
				}
				return nil, nil, false
			}}
			s := startServer(t, Config{Registry: reg}, h)

			opts := []kgo.Opt{kgo.SeedBrokers(s.Addr().String())}
			if tc.pinnedClientMax >= 0 {
				v := kversion.Stable()
				v.SetMaxKeyVersion(18, tc.pinnedClientMax)
				opts = append(opts, kgo.MaxVersions(v))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()

			const concurrent = 32
			var wg sync.WaitGroup
			errs := make(chan error, concurrent)
			for i := 0; i < concurrent; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					topic := fmt.Sprint("topic-", i)
					req := kmsg.NewPtrMetadataRequest()
					req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
					resp, err := req.RequestWith(ctx, cl)
					switch {
					case err != nil:
						errs <- err
					case len(resp.Topics) != 1 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != topic:
						errs <- fmt.Errorf("request for %s answered with %+v", topic, resp.Topics)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if got := apiVersionsHandled.Load(); (got == 0) != tc.fallback {
				t.Errorf("handler saw %d ApiVersions requests (fallback expected: %v)", got, tc.fallback)
			}
			if got := metadataHandled.Load(); got < concurrent {
				t.Errorf("handler saw %d Metadata requests, want >= %d", got, concurrent)
			}
		})
	}
}
