package cluster

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// info is the result of `cluster info`.
type info struct {
	ClusterID  string `json:"cluster_id"`
	Controller int32  `json:"controller"`
	// Source says which request the broker list came from:
	// "DescribeCluster", or "Metadata" for brokers without DescribeCluster.
	Source  string   `json:"source"`
	Brokers []broker `json:"brokers"`
}

type broker struct {
	ID   int32   `json:"id"`
	Host string  `json:"host"`
	Port int32   `json:"port"`
	Rack *string `json:"rack"`
}

func newInfoCommand(cf *clientflags.Flags) *cobra.Command {
	var out format.Format
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the cluster id, controller and brokers",
		Long: `Show the cluster id, the controller and the brokers.

The broker list comes from DescribeCluster (KIP-700); a broker that does not
support it is asked with Metadata instead. Columns of the BROKERS table:
ID (node id), HOST, PORT and RACK (empty when the broker has none).

Examples:
  samsa cluster info
  samsa cluster info --brokers 10.0.0.1:9092,10.0.0.2:9092
  samsa cluster info --format yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := cf.NewClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := cf.RequestContext(cmd.Context())
			defer cancel()

			res, err := clusterInfo(ctx, cl)
			if err != nil {
				return err
			}
			return format.Print(cmd.OutOrStdout(), out, res, func(w io.Writer) error {
				format.Section(w, "CLUSTER", true)
				err := format.WriteKVs(w,
					format.KV{Key: "CLUSTER-ID", Value: res.ClusterID},
					format.KV{Key: "CONTROLLER", Value: res.Controller},
				)
				if err != nil {
					return err
				}
				format.Section(w, "BROKERS", false)
				t := format.NewTable("ID", "HOST", "PORT", "RACK")
				for _, b := range res.Brokers {
					rack := ""
					if b.Rack != nil {
						rack = *b.Rack
					}
					t.Row(b.ID, b.Host, b.Port, rack)
				}
				return t.Write(w)
			})
		},
	}
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}

// clusterInfo asks with Metadata (which every broker serves, and which
// proves the connection works) and then with DescribeCluster, whose answer
// wins when the broker supports it.
func clusterInfo(ctx context.Context, cl *kgo.Client) (info, error) {
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return info{}, fmt.Errorf("cluster info: metadata: %w", err)
	}
	res := info{ClusterID: md.Cluster, Controller: md.Controller, Source: "Metadata"}
	for _, b := range md.Brokers {
		res.Brokers = append(res.Brokers, broker{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}

	req := kmsg.NewPtrDescribeClusterRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err == nil {
		res.ClusterID, res.Controller, res.Source = resp.ClusterID, resp.ControllerID, "DescribeCluster"
		res.Brokers = res.Brokers[:0]
		for _, b := range resp.Brokers {
			res.Brokers = append(res.Brokers, broker{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
		}
	} else if ctx.Err() != nil {
		return info{}, fmt.Errorf("cluster info: describe cluster: %w", err)
	}
	// Any other DescribeCluster failure (an old broker, an authorization
	// error) leaves the Metadata answer in place.
	sort.Slice(res.Brokers, func(i, j int) bool { return res.Brokers[i].ID < res.Brokers[j].ID })
	if res.Brokers == nil {
		res.Brokers = []broker{}
	}
	return res, nil
}
