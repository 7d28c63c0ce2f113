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

// apis (the Kafka listener's) and controllerAPIs (the controller
// listener's) are filled by the NN_name.go files, each registering the
// versions it serves next to its handler, so ApiVersions is computed, never
// typed.
var (
	apis           = map[int16]api{}
	controllerAPIs = map[int16]api{}
)

// register adds an API of the Kafka listener; it is called from the init of
// each handler file.
func register(key, min, max int16, h handlerFunc) { add(apis, key, min, max, h) }

// registerController adds a broker-to-controller API (BrokerRegistration,
// BrokerHeartbeat, AlterPartition, ...) served only on the controller
// listener.
func registerController(key, min, max int16, h handlerFunc) { add(controllerAPIs, key, min, max, h) }

// registerAdmin adds an admin API served on both listeners: clients send it
// to any broker, which forwards it to the controller's listener when this
// node is not the controller (see forward.go).
func registerAdmin(key, min, max int16, h handlerFunc) {
	add(apis, key, min, max, h)
	add(controllerAPIs, key, min, max, h)
}

func add(m map[int16]api, key, min, max int16, h handlerFunc) {
	if _, dup := m[key]; dup {
		panic("broker: api key registered twice") // a programming error, caught by any test
	}
	m[key] = api{key: key, min: min, max: max, handle: h}
}

// newRegistry builds a wire registry from a table of APIs.
func newRegistry(table map[int16]api) *wire.Registry {
	keys := make([]int, 0, len(table))
	for k := range table {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	reg := wire.NewRegistry()
	for _, k := range keys {
		a := table[int16(k)]
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

// onControllerListener marks the context of requests that arrived on the
// controller listener: they are never forwarded again.
type onControllerListener struct{}

// fromControllerListener reports whether ctx is a controller-listener
// request's.
func fromControllerListener(ctx context.Context) bool {
	return ctx.Value(onControllerListener{}) != nil
}

// ControllerHandler serves the controller listener: the broker-to-controller
// APIs and forwarded admin requests.
func (b *Broker) ControllerHandler() wire.Handler {
	return wire.HandlerFunc(func(ctx context.Context, r *wire.Request) (*wire.Response, error) {
		a, ok := controllerAPIs[r.Key]
		if !ok {
			return nil, errUnknownKey(r.Key)
		}
		return a.handle(b, context.WithValue(ctx, onControllerListener{}, true), r)
	})
}

// ControllerRegistry returns the API versions of the controller listener.
func (b *Broker) ControllerRegistry() *wire.Registry { return b.controllerRegistry }
