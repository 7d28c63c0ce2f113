package testserver

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/testutil/freeport"
)

// Cluster is an in-process cluster of nodes, every one a voter, on loopback.
type Cluster struct {
	// Nodes maps node ids (1..n) to the running nodes.
	Nodes map[int32]*server.Node
}

// Bootstrap returns the Kafka addresses of every node, comma-separated.
func (c *Cluster) Bootstrap() string {
	var addrs []string
	for id := int32(1); int(id) <= len(c.Nodes); id++ {
		if n := c.Nodes[id]; n != nil {
			addrs = append(addrs, n.KafkaAddr())
		}
	}
	return strings.Join(addrs, ",")
}

// StartCluster starts n in-process nodes that form one metadata quorum,
// with the properties set on every node ("{id}" in a value becomes the
// node's id, as in broker.rack=rack-{id}), and stops them when the test
// ends. Nodes log at warn level (debug with SAMSA_TEST_VERBOSE set).
func StartCluster(t testing.TB, n int, set map[string]string) *Cluster {
	t.Helper()
	ctl := make([]string, n)
	var voters []string
	for i := range n {
		addr, err := freeport.Addr("127.0.0.1") // bound later, by the node
		if err != nil {
			t.Fatal(err)
		}
		ctl[i] = addr
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, ctl[i]))
	}
	c := &Cluster{Nodes: map[int32]*server.Node{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		id := int32(i + 1)
		env := []string{
			fmt.Sprintf("SAMSA_NODE_ID=%d", id),
			"SAMSA_DATA_DIR=" + t.TempDir(),
			"SAMSA_KAFKA_ADDR=127.0.0.1:0",
			"SAMSA_CONTROLLER_ADDR=" + ctl[i],
			"SAMSA_VOTERS=" + strings.Join(voters, ","),
			"SAMSA_HTTP_ADDR=",
		}
		for k, v := range set {
			env = append(env, config.EnvName(k)+"="+strings.ReplaceAll(v, "{id}", fmt.Sprint(id)))
		}
		cfg, err := config.Load(nil, env)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			level := slog.LevelWarn
			if os.Getenv("SAMSA_TEST_VERBOSE") != "" {
				level = slog.LevelDebug
			}
			lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", id)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			node, err := server.Start(ctx, cfg, lg)
			if err != nil {
				errs <- fmt.Errorf("node %d: %w", id, err)
				return
			}
			mu.Lock()
			c.Nodes[id] = node
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() {
		for _, node := range c.Nodes {
			node.Close()
		}
	})
	for err := range errs {
		t.Fatal(err)
	}
	return c
}
