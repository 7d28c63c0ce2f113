package controller

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/topicconfig"
)

// ConfigEntry is one config of a legacy AlterConfigs resource.
type ConfigEntry struct {
	Name  string
	Value *string
}

// AlterConfigsResource is one resource of a legacy AlterConfigs request: its
// overrides are replaced by Configs (configs not listed are removed).
type AlterConfigsResource struct {
	Type    metadata.ResourceType
	Name    string
	Configs []ConfigEntry
}

// ConfigOp is one operation of an IncrementalAlterConfigs resource.
type ConfigOp struct {
	Name string
	// Op is SET, DELETE, APPEND or SUBTRACT (APPEND and SUBTRACT only for
	// LIST configs such as cleanup.policy).
	Op    kmsg.IncrementalAlterConfigOp
	Value *string
}

// IncrementalAlterConfigsResource is one resource of an
// IncrementalAlterConfigs request.
type IncrementalAlterConfigsResource struct {
	Type metadata.ResourceType
	Name string
	Ops  []ConfigOp
}

// ConfigResult is the outcome for one resource.
type ConfigResult struct {
	Type       metadata.ResourceType
	Name       string
	Err        *kerr.Error
	ErrMessage string
}

// AlterConfigs replaces the config overrides of topic and broker resources
// (Kafka's legacy AlterConfigs). Topic configs are checked against the
// topicconfig catalog; broker resources ("" for the cluster-wide default,
// or a node id) accept the broker properties that supply topic defaults
// (log.retention.ms, ...). A resource is changed entirely or not at all.
func (c *Controller) AlterConfigs(ctx context.Context, res []AlterConfigsResource, validateOnly bool) []ConfigResult {
	plans := make([]planFunc, len(res))
	keys := make([]resourceKey, len(res))
	for i, r := range res {
		keys[i] = resourceKey{r.Type, r.Name}
		plans[i] = func(map[string]string) (map[string]string, *topicError) {
			next := make(map[string]string, len(r.Configs))
			for _, e := range r.Configs {
				if _, dup := next[e.Name]; dup {
					return nil, refuse(kerr.InvalidRequest, "Error due to duplicate config keys")
				}
				if e.Value == nil {
					return nil, refuse(kerr.InvalidRequest, "Null value not supported for : %s", e.Name)
				}
				next[e.Name] = *e.Value
			}
			return next, nil
		}
	}
	return c.alterConfigs(ctx, keys, plans, validateOnly)
}

// IncrementalAlterConfigs applies SET, DELETE, APPEND and SUBTRACT
// operations to the overrides of topic and broker resources, validated as
// in AlterConfigs. APPEND/SUBTRACT start from the current override, or the
// config's default when there is none, as Kafka does.
func (c *Controller) IncrementalAlterConfigs(ctx context.Context, res []IncrementalAlterConfigsResource, validateOnly bool) []ConfigResult {
	plans := make([]planFunc, len(res))
	keys := make([]resourceKey, len(res))
	for i, r := range res {
		keys[i] = resourceKey{r.Type, r.Name}
		plans[i] = func(current map[string]string) (map[string]string, *topicError) {
			return applyOps(r.Type, current, r.Ops)
		}
	}
	return c.alterConfigs(ctx, keys, plans, validateOnly)
}

// planFunc computes a resource's overrides from its current ones.
type planFunc func(current map[string]string) (map[string]string, *topicError)

type resourceKey struct {
	typ  metadata.ResourceType
	name string
}

func (c *Controller) alterConfigs(ctx context.Context, keys []resourceKey,
	plans []planFunc, validateOnly bool) []ConfigResult {
	results := make([]ConfigResult, len(keys))
	for i, k := range keys {
		results[i].Type, results[i].Name = k.typ, k.name
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.log.LeaderImage(ctx)
	if err != nil {
		code, msg := kafkaError(err)
		for i := range results {
			results[i].Err, results[i].ErrMessage = code, msg
		}
		return results
	}
	counts := map[resourceKey]int{}
	for _, k := range keys {
		counts[k]++
	}
	defaults := c.brokerDefaults(img)
	var records []metadata.Record
	var accepted []int
	for i, k := range keys {
		rec, terr := c.planConfigs(img, k, counts[k], plans[i], defaults)
		if terr != nil {
			results[i].Err, results[i].ErrMessage = terr.code, terr.msg
			continue
		}
		accepted = append(accepted, i)
		if len(rec.Set) > 0 || len(rec.Delete) > 0 {
			records = append(records, rec)
		}
	}
	if validateOnly || len(records) == 0 {
		return results
	}
	if _, err := c.log.Propose(ctx, batch(records)); err != nil {
		code, msg := kafkaError(err)
		for _, i := range accepted {
			results[i].Err, results[i].ErrMessage = code, msg
		}
		return results
	}
	for _, r := range records {
		ac := r.(metadata.AlterConfigs)
		c.lg.Info("configs altered", "resource_type", ac.ResourceType, "resource", ac.Name, "set", len(ac.Set), "deleted", len(ac.Delete))
	}
	return results
}

func (c *Controller) planConfigs(img metadata.Image, k resourceKey, count int,
	plan planFunc, defaults map[string]string) (metadata.AlterConfigs, *topicError) {
	if count > 1 {
		return metadata.AlterConfigs{}, refuse(kerr.InvalidRequest, "Duplicate resource.")
	}
	var current map[string]string
	switch k.typ {
	case metadata.ResourceTopic:
		if err := metadata.ValidateTopicName(k.name); err != nil {
			return metadata.AlterConfigs{}, refuse(kerr.InvalidTopicException, "%s", err.Error())
		}
		t, ok := img.Topic(k.name)
		if !ok {
			return metadata.AlterConfigs{}, refuse(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", k.name)
		}
		current = t.Configs
	case metadata.ResourceBroker:
		if !metadata.IsBrokerResourceName(k.name) {
			return metadata.AlterConfigs{}, refuse(kerr.InvalidRequest, "Invalid broker name %s", k.name)
		}
		current = img.BrokerConfigs(k.name)
	default:
		return metadata.AlterConfigs{}, refuse(kerr.InvalidRequest, "Unsupported resource type %d.", k.typ)
	}
	next, terr := plan(current)
	if terr != nil {
		return metadata.AlterConfigs{}, terr
	}
	if len(next) > metadata.MaxConfigsPerResource {
		return metadata.AlterConfigs{}, refuse(kerr.InvalidConfig, "More than %d config overrides.", metadata.MaxConfigsPerResource)
	}
	if k.typ == metadata.ResourceTopic {
		if err := topicconfig.ValidateOverrides(next, defaults); err != nil {
			return metadata.AlterConfigs{}, refuse(kerr.InvalidConfig, "%s", err.Error())
		}
	} else {
		for _, name := range slices.Sorted(maps.Keys(next)) {
			if err := topicconfig.ValidateBroker(name, next[name]); err != nil {
				return metadata.AlterConfigs{}, refuse(kerr.InvalidConfig, "%s", err.Error())
			}
		}
	}
	rec := metadata.AlterConfigs{ResourceType: k.typ, Name: k.name, Set: map[string]string{}}
	for name, v := range next {
		if old, ok := current[name]; !ok || old != v {
			rec.Set[name] = v
		}
	}
	for _, name := range slices.Sorted(maps.Keys(current)) {
		if _, ok := next[name]; !ok {
			rec.Delete = append(rec.Delete, name)
		}
	}
	return rec, nil
}

// listEntry returns the catalog entry behind a config name of a resource
// type (a topic config, or a broker property supplying one).
func listEntry(typ metadata.ResourceType, name string) (topicconfig.Entry, bool) {
	if typ == metadata.ResourceBroker {
		e, _, ok := topicconfig.LookupBroker(name)
		return e, ok
	}
	return topicconfig.Lookup(name)
}

// applyOps computes the overrides after incremental operations.
func applyOps(typ metadata.ResourceType, current map[string]string, ops []ConfigOp) (map[string]string, *topicError) {
	next := maps.Clone(current)
	if next == nil {
		next = map[string]string{}
	}
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op.Name] {
			return nil, refuse(kerr.InvalidRequest, "Error due to duplicate config keys")
		}
		seen[op.Name] = true
		if op.Value == nil && op.Op != kmsg.IncrementalAlterConfigOpDelete {
			return nil, refuse(kerr.InvalidRequest, "Null value not supported for : %s", op.Name)
		}
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			next[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			e, ok := listEntry(typ, op.Name)
			if !ok {
				what := "topic"
				if typ == metadata.ResourceBroker {
					what = "broker"
				}
				return nil, refuse(kerr.InvalidConfig, "Unknown %s config name: %s", what, op.Name)
			}
			if e.Type != kmsg.ConfigTypeList {
				return nil, refuse(kerr.InvalidConfig, "Can't %s to key %s because its type is not LIST.", opName(op.Op), op.Name)
			}
			old, ok := next[op.Name]
			if !ok {
				old = e.Default
			}
			next[op.Name] = editList(old, *op.Value, op.Op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return nil, refuse(kerr.InvalidRequest, "Unknown alter config operation %d for %s.", op.Op, op.Name)
		}
	}
	return next, nil
}

func opName(op kmsg.IncrementalAlterConfigOp) string {
	if op == kmsg.IncrementalAlterConfigOpAppend {
		return "APPEND"
	}
	return "SUBTRACT"
}

// editList appends the items of values missing from list, or removes them.
func editList(list, values string, appendItems bool) string {
	var items []string
	for _, it := range strings.Split(list, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	for _, v := range strings.Split(values, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if appendItems {
			if !slices.Contains(items, v) {
				items = append(items, v)
			}
		} else {
			items = slices.DeleteFunc(items, func(it string) bool { return it == v })
		}
	}
	return strings.Join(items, ",")
}

// EffectiveTopicConfigs returns every config in force for a topic on broker
// nodeID, for DescribeConfigs: the topic's overrides, then the broker's
// dynamic configs (DYNAMIC_BROKER_CONFIG), the cluster-wide dynamic defaults
// (DYNAMIC_DEFAULT_BROKER_CONFIG), static (the node's properties,
// STATIC_BROKER_CONFIG), and the built-in defaults. ok is false if the topic
// does not exist.
func EffectiveTopicConfigs(img metadata.Image, topic string, nodeID int32, static map[string]string) ([]topicconfig.Value, bool) {
	t, ok := img.Topic(topic)
	if !ok {
		return nil, false
	}
	return topicconfig.ResolveLayers(t.Configs,
		topicconfig.Layer{Source: kmsg.ConfigSourceDynamicBrokerConfig, Configs: img.BrokerConfigs(strconv.FormatInt(int64(nodeID), 10))},
		topicconfig.Layer{Source: kmsg.ConfigSourceDynamicDefaultBrokerConfig, Configs: img.BrokerConfigs("")},
		topicconfig.Layer{Source: kmsg.ConfigSourceStaticBrokerConfig, Configs: static},
	), true
}
