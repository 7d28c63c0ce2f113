package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestClusterInfo(t *testing.T) {
	brokers := testBrokers(t)
	out := mustSamsa(t, brokers, "", "cluster", "info")
	cl := section(t, out, "CLUSTER")
	if !strings.Contains(cl, "CLUSTER-ID") || !strings.Contains(cl, "CONTROLLER") {
		t.Fatalf("cluster section:\n%s", out)
	}
	rows := tableRows(t, section(t, out, "BROKERS"))
	if len(rows) == 0 || rows[0]["HOST"] == "" || rows[0]["PORT"] == "" || rows[0]["ID"] == "" {
		t.Fatalf("brokers:\n%s", out)
	}
	if usingKfake() && len(rows) != 3 {
		t.Fatalf("kfake runs 3 brokers, table has %d:\n%s", len(rows), out)
	}

	var info struct {
		ClusterID  string `json:"cluster_id"`
		Controller int32  `json:"controller"`
		Brokers    []struct {
			ID   int32   `json:"id"`
			Host string  `json:"host"`
			Port int32   `json:"port"`
			Rack *string `json:"rack"`
		} `json:"brokers"`
	}
	decodeJSON(t, mustSamsa(t, brokers, "", "cluster", "info", "--format", "json"), &info)
	if info.ClusterID == "" || len(info.Brokers) != len(rows) || info.Brokers[0].Port <= 0 {
		t.Fatalf("json: %+v", info)
	}
	ids := map[int32]bool{}
	for _, b := range info.Brokers {
		ids[b.ID] = true
	}
	if !ids[info.Controller] {
		t.Fatalf("controller %d is not among the brokers %v", info.Controller, ids)
	}
}

// TestEveryCommandHasExamples walks the tree: every command has Long help
// with examples and returns errors instead of exiting.
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || (c.Parent() != nil && c.Parent().Name() == "completion") {
			return
		}
		if !strings.Contains(c.Long, "Examples:") {
			t.Errorf("%s: Long help has no examples", c.CommandPath())
		}
		if c.Run != nil {
			t.Errorf("%s: uses Run; commands must use RunE", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCommand())
}

func TestHelpAndUnknownCommand(t *testing.T) {
	out := mustSamsa(t, "", "", "topic", "--help")
	for _, verb := range []string{"create", "list", "describe", "alter-config", "add-partitions", "delete"} {
		if !strings.Contains(out, verb) {
			t.Errorf("topic help lacks %s", verb)
		}
	}
	r := mustFail(t, "", "", "topc")
	if !strings.Contains(r.err.Error(), `unknown command "topc"`) {
		t.Fatalf("unknown command: %v", r.err)
	}
	// The brokers flag lives on the client nouns, not on the root (where
	// `samsa server` will be added).
	if NewRootCommand().PersistentFlags().Lookup("brokers") != nil {
		t.Fatal("--brokers is a root flag")
	}
}
