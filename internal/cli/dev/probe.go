package dev

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// probeDialTimeout bounds the TCP connect of one probe.
const probeDialTimeout = 2 * time.Second

// ProbeAPIVersions sends ApiVersions to the Kafka listener at addr (and to
// no other broker) and returns an error unless it answers without error.
func ProbeAPIVersions(ctx context.Context, addr string) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = "samsa-dev" // v3+ brokers reject empty names
	req.ClientSoftwareVersion = "1"
	resp, err := probe(ctx, addr, req)
	if err != nil {
		return err
	}
	if code := resp.(*kmsg.ApiVersionsResponse).ErrorCode; code != 0 {
		return fmt.Errorf("dev: ApiVersions to %s: error code %d", addr, code)
	}
	return nil
}

// Broker is a broker as listed in a Metadata response.
type Broker struct {
	ID   int32
	Addr string // host:port it advertises
}

// Brokers asks the broker at addr (and no other) for Metadata without
// topics and returns the brokers it lists, sorted by id.
func Brokers(ctx context.Context, addr string) ([]Broker, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none: only brokers and the controller
	resp, err := probe(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	listed := resp.(*kmsg.MetadataResponse).Brokers
	brokers := make([]Broker, 0, len(listed))
	for _, b := range listed {
		brokers = append(brokers, Broker{ID: b.NodeID, Addr: net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))})
	}
	slices.SortFunc(brokers, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
	return brokers, nil
}

// BrokerIDs returns the ids of Brokers(ctx, addr).
func BrokerIDs(ctx context.Context, addr string) ([]int32, error) {
	brokers, err := Brokers(ctx, addr)
	if err != nil {
		return nil, err
	}
	ids := make([]int32, len(brokers))
	for i, b := range brokers {
		ids[i] = b.ID
	}
	return ids, nil
}

// CheckIdentity returns an error unless brokers list node id at addr: the
// process answering on addr is that node, and not something else that took
// its port.
func CheckIdentity(brokers []Broker, id int32, addr string) error {
	for _, b := range brokers {
		if b.ID == id {
			if b.Addr != addr {
				return fmt.Errorf("the broker answering on %s lists node %d at %s: another process holds the port", addr, id, b.Addr)
			}
			return nil
		}
	}
	return nil // not registered yet: the caller's wait goes on
}

// probe sends req to exactly the listener at addr with a short-lived client.
func probe(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(probeDialTimeout),
		kgo.ClientID("samsa-dev-probe"))
	if err != nil {
		return nil, fmt.Errorf("dev: probe %s: %w", addr, err)
	}
	defer cl.Close()
	seeds := cl.SeedBrokers()
	if len(seeds) != 1 {
		return nil, fmt.Errorf("dev: probe %s: client has %d seed brokers", addr, len(seeds))
	}
	resp, err := seeds[0].Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("dev: %s to %s: %w", kmsg.NameForKey(req.Key()), addr, err)
	}
	return resp, nil
}
