package dev

import (
	"fmt"
	"io"
	"strings"

	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// NodeView is one node in the output of `samsa dev`.
type NodeView struct {
	Node       int32  `json:"node"`
	Kafka      string `json:"kafka"`
	Controller string `json:"controller"`
	HTTP       string `json:"http"`
	Voter      bool   `json:"voter"`
	PID        int    `json:"pid"`
	Data       string `json:"data"`
	Log        string `json:"log"`
}

// ClusterView is the output of `samsa dev` once the cluster is up.
type ClusterView struct {
	Bootstrap string     `json:"bootstrap"` // comma-separated Kafka addresses
	Nodes     []NodeView `json:"nodes"`
}

// viewOf describes the running processes.
func viewOf(procs []*Process) ClusterView {
	v := ClusterView{Nodes: make([]NodeView, 0, len(procs))}
	addrs := make([]string, 0, len(procs))
	for _, p := range procs {
		s := p.Spec
		v.Nodes = append(v.Nodes, NodeView{Node: s.ID, Kafka: s.KafkaAddr, Controller: s.ControllerAddr,
			HTTP: s.HTTPAddr, Voter: s.Voter, PID: p.PID(), Data: s.DataDir, Log: s.LogPath})
		addrs = append(addrs, s.KafkaAddr)
	}
	v.Bootstrap = strings.Join(addrs, ",")
	return v
}

// printCluster writes the cluster's nodes and bootstrap servers in format f.
func printCluster(w io.Writer, f format.Format, procs []*Process) error {
	v := viewOf(procs)
	return format.Print(w, f, v, func(w io.Writer) error { return writeText(w, v) })
}

// writeText renders v as a table followed by the bootstrap servers.
func writeText(w io.Writer, v ClusterView) error {
	t := format.NewTable("NODE", "KAFKA", "CONTROLLER", "HTTP", "VOTER", "PID", "DATA")
	for _, n := range v.Nodes {
		t.Row(n.Node, n.Kafka, n.Controller, n.HTTP, n.Voter, n.PID, n.Data)
	}
	if err := t.Write(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nbootstrap servers: %s\n  export SAMSA_BROKERS=%s\n", v.Bootstrap, v.Bootstrap)
	return err
}
