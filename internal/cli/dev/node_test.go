package dev

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestVoterCount(t *testing.T) {
	tests := []struct{ nodes, want int }{
		{1, 1}, {2, 1}, {3, 3}, {4, 3}, {5, 5}, {6, 5}, {9, 5}, {100, 5},
	}
	for _, tt := range tests {
		if got := VoterCount(tt.nodes); got != tt.want {
			t.Errorf("VoterCount(%d) = %d, want %d", tt.nodes, got, tt.want)
		}
	}
}

func TestPlan(t *testing.T) {
	specs, err := plan("/d", 4, 19092, map[string]string{"num.partitions": "3"})
	if err != nil {
		t.Fatal(err)
	}
	wantVoters := "1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194"
	for i, s := range specs {
		id := i + 1
		want := NodeSpec{
			ID:             int32(id),
			KafkaAddr:      "127.0.0.1:" + strconv.Itoa(19092+i),
			ControllerAddr: "127.0.0.1:" + strconv.Itoa(19192+i),
			HTTPAddr:       "127.0.0.1:" + strconv.Itoa(19292+i),
			Voters:         wantVoters,
			Voter:          id <= 3,
			DataDir:        filepath.Join("/d", "node-"+strconv.Itoa(id)),
			LogPath:        filepath.Join("/d", "node-"+strconv.Itoa(id), "samsa.log"),
		}
		s.Props = nil
		if !equalSpec(s, want) {
			t.Errorf("node %d:\n got %+v\nwant %+v", id, s, want)
		}
	}
	if specs[3].Props == nil {
		t.Error("props were not passed to the nodes")
	}
}

func equalSpec(a, b NodeSpec) bool {
	return a.ID == b.ID && a.KafkaAddr == b.KafkaAddr && a.AdvertisedAddr == b.AdvertisedAddr &&
		a.ControllerAddr == b.ControllerAddr && a.HTTPAddr == b.HTTPAddr && a.Voters == b.Voters &&
		a.Voter == b.Voter && a.DataDir == b.DataDir && a.LogPath == b.LogPath
}

func TestPlanRejects(t *testing.T) {
	tests := []struct {
		name        string
		nodes, base int
		want        string
	}{
		{"no nodes", 0, 19092, "--nodes 0"},
		{"too many nodes", MaxNodes + 1, 19092, "--nodes 101"},
		{"port zero", 1, 0, "--base-port 0"},
		{"ports past 65535", 3, 65535 - 200 - 1, "--base-port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plan("/d", tt.nodes, tt.base, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := plan("/d", 3, 65535-200-2, nil); err != nil {
		t.Fatalf("the highest valid base port was refused: %v", err)
	}
}

func TestArgs(t *testing.T) {
	s := NodeSpec{ID: 2, KafkaAddr: "127.0.0.1:1", AdvertisedAddr: "127.0.0.1:2", ControllerAddr: "127.0.0.1:3",
		AdvertisedControllerAddr: "127.0.0.1:4", Voters: "1@127.0.0.1:5", DataDir: "/d/node-2",
		Props: map[string]string{"b.x": "2", "a.y": "1", "broker.rack": "rack-{id}"}}
	want := []string{"server", "--node-id", "2", "--data-dir", "/d/node-2", "--kafka-addr", "127.0.0.1:1",
		"--controller-addr", "127.0.0.1:3", "--http-addr", "", "--advertised-addr", "127.0.0.1:2",
		"--advertised-controller-addr", "127.0.0.1:4", "--voters", "1@127.0.0.1:5",
		"--set", "a.y=1", "--set", "b.x=2", "--set", "broker.rack=rack-2"}
	if got := s.Args(); !slices.Equal(got, want) {
		t.Fatalf("Args() =\n%q\nwant\n%q", got, want)
	}
}

func TestParseSets(t *testing.T) {
	tests := []struct {
		name    string
		sets    []string
		want    map[string]string
		wantErr string
	}{
		{"none", nil, map[string]string{}, ""},
		{"two", []string{"num.partitions=3", " log.retention.ms = 5"}, map[string]string{"num.partitions": "3", "log.retention.ms": " 5"}, ""},
		{"value with =", []string{"x=a=b"}, map[string]string{"x": "a=b"}, ""},
		{"no =", []string{"num.partitions"}, nil, "want name=value"},
		{"empty name", []string{"=3"}, nil, "want name=value"},
		{"reserved", []string{"node.id=4"}, nil, "samsa dev sets this property itself"},
		{"reserved voters", []string{"controller.quorum.voters=1@x:1"}, nil, "itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSets(tt.sets)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestCheckPortsFreeNamesTheTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	if busy < 201 {
		t.Fatalf("unexpected ephemeral port %d", busy)
	}
	// Lay the cluster out so that node 2's HTTP port is the busy one.
	specs, err := plan(t.TempDir(), 2, busy-201, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = checkPortsFree(specs)
	want := "127.0.0.1:" + strconv.Itoa(busy) + " (node 2 HTTP)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to name %s", err, want)
	}
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	three := layout{Nodes: 3, BasePort: 19092}
	if err := checkLayout(dir, three); err != nil {
		t.Fatalf("an empty dir was refused: %v", err)
	}
	if err := writeLayout(dir, three); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		want    layout
		wantErr string
	}{
		{"same", three, ""},
		{"other node count", layout{Nodes: 1, BasePort: 19092}, "holds a cluster of 3 node(s) with --base-port 19092"},
		{"other ports", layout{Nodes: 3, BasePort: 29092}, "start it with --nodes 3 --base-port 19092"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLayout(dir, tt.want)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if err := os.WriteFile(filepath.Join(dir, layoutFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkLayout(dir, three); err == nil {
		t.Fatal("a corrupt layout file was accepted")
	}
}
