package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "server.properties")
	content := "# comment\nnum.partitions=3\nlog.retention.hours=1\nmessage.max.bytes = 2000000\nnode.id=4\n"
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags := BindFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--data-dir", "/tmp/x", "--set", "num.partitions=5"}); err != nil {
		t.Fatal(err)
	}
	b, err := Load(flags, []string{"SAMSA_NODE_ID=7", "SAMSA_NUM_PARTITIONS=4", "SAMSA_BROKERS=ignored", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
		src  Source
		prop string
	}{
		{"flag beats env and file", b.NumPartitions, int32(5), SourceFlag, "num.partitions"},
		{"env beats file", b.NodeID, int32(7), SourceEnv, "node.id"},
		{"file alias hours", b.LogRetentionMs, time.Hour, SourceFile, "log.retention.ms"},
		{"file value", b.MessageMaxBytes, int32(2000000), SourceFile, "message.max.bytes"},
		{"dedicated flag", b.DataDir, "/tmp/x", SourceFlag, "log.dirs"},
		{"default", b.KafkaAddr, "127.0.0.1:9092", SourceDefault, "listeners"},
		{"advertised derived", b.AdvertisedAddr, "127.0.0.1:9092", SourceDefault, "advertised.listeners"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
			if s := b.SourceOf(tc.prop); s != tc.src {
				t.Errorf("source of %s = %v, want %v", tc.prop, s, tc.src)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"bad int", []string{"SAMSA_NUM_PARTITIONS=abc"}, "num.partitions"},
		{"out of range", []string{"SAMSA_NUM_PARTITIONS=0"}, "out of range"},
		{"bad enum", []string{"SAMSA_COMPRESSION_TYPE=brotli"}, "compression.type"},
		{"bad bool", []string{"SAMSA_AUTO_CREATE_TOPICS_ENABLE=maybe"}, "boolean"},
		{"bad addr", []string{"SAMSA_KAFKA_ADDR=nohost"}, "HOST:PORT"},
		{"unknown replica selector", []string{"SAMSA_REPLICA_SELECTOR_CLASS=com.example.Nearest"}, "unsupported replica selector"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(nil, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestReplicaSelector(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"", false},
		{"org.apache.kafka.common.replica.RackAwareReplicaSelector", true},
		{"RackAwareReplicaSelector", true},
	}
	for _, tc := range tests {
		cfg, err := Load(nil, []string{"SAMSA_REPLICA_SELECTOR_CLASS=" + tc.value})
		if err != nil || cfg.RackAwareReads != tc.want {
			t.Errorf("replica.selector.class=%q: rack-aware reads %v, %v; want %v", tc.value, cfg.RackAwareReads, err, tc.want)
		}
	}
}

func TestUnknownPropertyInFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p")
	if err := os.WriteFile(file, []byte("no.such.thing=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(&Flags{ConfigFile: file}, nil)
	if err == nil || !strings.Contains(err.Error(), "no.such.thing") {
		t.Fatalf("err = %v", err)
	}
}

func TestListenerForms(t *testing.T) {
	b, err := Load(nil, []string{"SAMSA_LISTENERS=PLAINTEXT://0.0.0.0:19092"})
	if err != nil {
		t.Fatal(err)
	}
	if b.KafkaAddr != "0.0.0.0:19092" {
		t.Fatalf("KafkaAddr = %q", b.KafkaAddr)
	}
}
