package broker

// DescribeConfigs (API key 32), versions 0-4.
//
// Topic resources: every topic config in force, resolved through the layers
// Kafka uses (DYNAMIC_TOPIC_CONFIG override, DYNAMIC_BROKER_CONFIG,
// DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG) with
// synonyms (v1+, when asked), types and documentation (v3+). Broker resources
// named by this node's id: every node property with its source; the empty
// name: the cluster-wide dynamic defaults. Other brokers' ids get
// INVALID_REQUEST (ask that broker), BROKER_LOGGER resources
// INVALID_REQUEST (not supported).

import (
	"context"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/topicconfig"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(32, 0, 4, (*Broker).handleDescribeConfigs) }

func (b *Broker) handleDescribeConfigs(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	img := b.meta.Image()
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var values []topicconfig.Value
		var err error
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			var ok bool
			values, ok = controller.EffectiveTopicConfigs(img, res.ResourceName, b.nodeID, b.cfg.ExplicitProperties())
			if !ok {
				err = kerr.UnknownTopicOrPartition
			}
		case kmsg.ConfigResourceTypeBroker:
			values, err = b.brokerConfigValues(res.ResourceName)
		default:
			err = kerr.InvalidRequest
		}
		if err != nil {
			setError(&rr.ErrorCode, &rr.ErrorMessage, err)
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		for _, v := range values {
			if res.ConfigNames != nil && !slices.Contains(res.ConfigNames, v.Name) {
				continue
			}
			rr.Configs = append(rr.Configs, describeValue(v, req))
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return &wire.Response{Msg: resp}, nil
}

// describeValue renders one config for the response version.
func describeValue(v topicconfig.Value, req *kmsg.DescribeConfigsRequest) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.ReadOnly, c.IsSensitive = v.Name, v.ReadOnly, v.Sensitive
	c.Source = v.Source
	c.IsDefault = v.Source == kmsg.ConfigSourceDefaultConfig
	if !v.Sensitive {
		val := v.Value
		c.Value = &val
	}
	c.ConfigType = v.Type
	if req.IncludeDocumentation && v.Doc != "" {
		doc := v.Doc
		c.Documentation = &doc
	}
	if req.IncludeSynonyms {
		for _, s := range v.Synonyms {
			syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			syn.Name, syn.Source = s.Name, s.Source
			if !v.Sensitive {
				val := s.Value
				syn.Value = &val
			}
			c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
		}
	}
	return c
}

// brokerConfigValues lists a broker resource's configs: this node's
// properties (name = its id) or the cluster-wide dynamic defaults ("").
func (b *Broker) brokerConfigValues(name string) ([]topicconfig.Value, error) {
	img := b.meta.Image()
	cluster := img.BrokerConfigs("")
	if name == "" {
		var out []topicconfig.Value
		for _, k := range sortedKeys(cluster) {
			out = append(out, topicconfig.Value{Name: k, Value: cluster[k],
				Source: kmsg.ConfigSourceDynamicDefaultBrokerConfig, Type: kmsg.ConfigTypeString})
		}
		return out, nil
	}
	if id, err := strconv.ParseInt(name, 10, 32); err != nil || int32(id) != b.nodeID {
		return nil, kerr.InvalidRequest
	}
	node := img.BrokerConfigs(name)
	names := config.Names()
	for k := range node {
		names = append(names, k)
	}
	for k := range cluster {
		names = append(names, k)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	out := make([]topicconfig.Value, 0, len(names))
	for _, k := range names {
		v := topicconfig.Value{Name: k, Type: kmsg.ConfigTypeString, Doc: config.Doc(k)}
		if val, ok := node[k]; ok {
			v.Value, v.Source = val, kmsg.ConfigSourceDynamicBrokerConfig
		} else if val, ok := cluster[k]; ok {
			v.Value, v.Source = val, kmsg.ConfigSourceDynamicDefaultBrokerConfig
		} else if val, ok := b.cfg.Value(k); ok {
			v.Value, v.Source = val, kmsg.ConfigSourceStaticBrokerConfig
			if b.cfg.SourceOf(k) == config.SourceDefault {
				v.Source = kmsg.ConfigSourceDefaultConfig
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
