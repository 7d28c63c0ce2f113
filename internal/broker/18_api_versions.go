package broker

// ApiVersions (API key 18), versions 0-4.
//
// The list of keys and versions is computed from the handlers registered in
// this package (apis.go), never typed. A request at a version newer than 4 is
// answered by the wire layer itself (KIP-511: a v0 body with
// UNSUPPORTED_VERSION and the full key list, so the client retries).

import (
	"context"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { registerAdmin(18, 0, 4, (*Broker).handleApiVersions) }

func (b *Broker) handleApiVersions(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	if fromControllerListener(ctx) {
		return &wire.Response{Msg: b.controllerRegistry.ApiVersionsResponse(r.Version)}, nil
	}
	return &wire.Response{Msg: b.registry.ApiVersionsResponse(r.Version)}, nil
}
