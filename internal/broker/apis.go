package broker

import (
	"context"
	"sort"

	"github.com/samsa-streaming/samsa/internal/wire"
)

// handlerFunc serves one decoded request. Per-partition problems are Kafka
// error codes inside the response; a returned error closes the connection.
type handlerFunc func(b *Broker, ctx context.Context, r *wire.Request) (*wire.Response, error)

// api is one Kafka API this broker serves.
type api struct {
	key      int16
	min, max int16
	handle   handlerFunc
}

// apis is filled by the NN_name.go files, each registering the versions it
// serves next to its handler, so ApiVersions is computed, never typed.
var apis = map[int16]api{}

// register is called from the init of each handler file.
func register(key, min, max int16, h handlerFunc) {
	if _, dup := apis[key]; dup {
		panic("broker: api key registered twice") // a programming error, caught by any test
	}
	apis[key] = api{key: key, min: min, max: max, handle: h}
}

// newRegistry builds the wire registry from apis.
func newRegistry() *wire.Registry {
	keys := make([]int, 0, len(apis))
	for k := range apis {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	reg := wire.NewRegistry()
	for _, k := range keys {
		a := apis[int16(k)]
		reg.Register(a.key, a.min, a.max)
	}
	return reg
}

// Handle dispatches a request to its API handler (wire.Handler). wire has
// already checked that the key and version are registered.
func (b *Broker) Handle(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	a, ok := apis[r.Key]
	if !ok {
		return nil, errUnknownKey(r.Key)
	}
	return a.handle(b, ctx, r)
}
