package broker

// AlterConfigs (API key 33), versions 0-2, and IncrementalAlterConfigs (API
// key 44), versions 0-1.
//
// AlterConfigs replaces a resource's whole set of overrides (configs not
// named return to their defaults); IncrementalAlterConfigs applies SET,
// DELETE, APPEND and SUBTRACT per config. Both validate every name and value
// with the controller (INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION, ...) and
// commit through the metadata log; ValidateOnly commits nothing. Topic and
// broker resources are served; others get INVALID_REQUEST. Changes apply to
// the live partitions (retention, segment size, ...) as soon as they commit.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() {
	registerAdmin(33, 0, 2, (*Broker).handleAlterConfigs)
	registerAdmin(44, 0, 1, (*Broker).handleIncrementalAlterConfigs)
}

// resourceType maps a Kafka config resource type to metadata's; ok is false
// for types samsa does not store.
func resourceType(t kmsg.ConfigResourceType) (metadata.ResourceType, bool) {
	switch t {
	case kmsg.ConfigResourceTypeTopic:
		return metadata.ResourceTopic, true
	case kmsg.ConfigResourceTypeBroker:
		return metadata.ResourceBroker, true
	}
	return 0, false
}

// configResults merges controller results (for the supported resources, in
// order) with INVALID_REQUEST for the unsupported ones.
func configResults(types []kmsg.ConfigResourceType, names []string, supported []bool, results []controller.ConfigResult,
	add func(t kmsg.ConfigResourceType, name string, code int16, msg *string)) {
	j := 0
	for i := range types {
		if !supported[i] {
			msg := "unsupported config resource type"
			add(types[i], names[i], kerr.InvalidRequest.Code, &msg)
			continue
		}
		res := results[j]
		j++
		var code int16
		var msg *string
		if res.Err != nil {
			code = res.Err.Code
			if res.ErrMessage != "" {
				m := res.ErrMessage
				msg = &m
			}
		}
		add(types[i], names[i], code, msg)
	}
}

func (b *Broker) handleAlterConfigs(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.AlterConfigsRequest)
	if fwd, ok := b.forward(ctx, r); ok {
		return fwd, nil
	}
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	var res []controller.AlterConfigsResource
	types, names, supported := make([]kmsg.ConfigResourceType, len(req.Resources)), make([]string, len(req.Resources)), make([]bool, len(req.Resources))
	for i, rr := range req.Resources {
		types[i], names[i] = rr.ResourceType, rr.ResourceName
		t, ok := resourceType(rr.ResourceType)
		if supported[i] = ok; !ok {
			continue
		}
		ar := controller.AlterConfigsResource{Type: t, Name: rr.ResourceName}
		for _, c := range rr.Configs {
			ar.Configs = append(ar.Configs, controller.ConfigEntry{Name: c.Name, Value: c.Value})
		}
		res = append(res, ar)
	}
	ctx, cancel := adminContext(ctx, 30000)
	defer cancel()
	results := b.ctl.AlterConfigs(ctx, res, req.ValidateOnly)
	if !req.ValidateOnly {
		b.syncMetadata()
	}
	configResults(types, names, supported, results, func(t kmsg.ConfigResourceType, name string, code int16, msg *string) {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName, rr.ErrorCode, rr.ErrorMessage = t, name, code, msg
		resp.Resources = append(resp.Resources, rr)
	})
	return &wire.Response{Msg: resp}, nil
}

func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.IncrementalAlterConfigsRequest)
	if fwd, ok := b.forward(ctx, r); ok {
		return fwd, nil
	}
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	var res []controller.IncrementalAlterConfigsResource
	types, names, supported := make([]kmsg.ConfigResourceType, len(req.Resources)), make([]string, len(req.Resources)), make([]bool, len(req.Resources))
	for i, rr := range req.Resources {
		types[i], names[i] = rr.ResourceType, rr.ResourceName
		t, ok := resourceType(rr.ResourceType)
		if supported[i] = ok; !ok {
			continue
		}
		ir := controller.IncrementalAlterConfigsResource{Type: t, Name: rr.ResourceName}
		for _, c := range rr.Configs {
			ir.Ops = append(ir.Ops, controller.ConfigOp{Name: c.Name, Op: c.Op, Value: c.Value})
		}
		res = append(res, ir)
	}
	ctx, cancel := adminContext(ctx, 30000)
	defer cancel()
	results := b.ctl.IncrementalAlterConfigs(ctx, res, req.ValidateOnly)
	if !req.ValidateOnly {
		b.syncMetadata()
	}
	configResults(types, names, supported, results, func(t kmsg.ConfigResourceType, name string, code int16, msg *string) {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName, rr.ErrorCode, rr.ErrorMessage = t, name, code, msg
		resp.Resources = append(resp.Resources, rr)
	})
	return &wire.Response{Msg: resp}, nil
}
