package dev

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestProbesAgainstKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs := c.ListenAddrs()
	for _, addr := range addrs {
		if err := ProbeAPIVersions(ctx, addr); err != nil {
			t.Fatalf("ProbeAPIVersions(%s): %v", addr, err)
		}
		brokers, err := Brokers(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(brokers) != len(addrs) {
			t.Fatalf("Brokers(%s) = %v, want %d brokers", addr, brokers, len(addrs))
		}
		for i, b := range brokers {
			if i > 0 && brokers[i-1].ID >= b.ID {
				t.Fatalf("brokers not sorted by id: %v", brokers)
			}
		}
		ids, err := BrokerIDs(ctx, addr)
		if err != nil || len(ids) != len(brokers) {
			t.Fatalf("BrokerIDs(%s) = %v, %v", addr, ids, err)
		}
	}
}

func TestProbeOfAClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ProbeAPIVersions(ctx, addr); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("ProbeAPIVersions of a closed port = %v, want an error naming %s", err, addr)
	}
}

func TestCheckIdentity(t *testing.T) {
	brokers := []Broker{{ID: 1, Addr: "127.0.0.1:9092"}, {ID: 2, Addr: "127.0.0.1:9093"}}
	tests := []struct {
		name    string
		id      int32
		addr    string
		wantErr string
	}{
		{"ours", 2, "127.0.0.1:9093", ""},
		{"not registered yet", 3, "127.0.0.1:9094", ""},
		{"someone else on our port", 1, "127.0.0.1:19092", "another process holds the port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckIdentity(brokers, tt.id, tt.addr)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("CheckIdentity = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
