package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestRunExitStatus(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")

	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		wantStatus int
		wantOut    string
		wantErr    string
	}{
		{"create", []string{"topic", "create", "t1", "-p", "1", "--brokers", brokers}, "", 0, "OK", ""},
		{"produce", []string{"produce", "t1", "--brokers", brokers}, "hello\n", 0, "Produced 1 records", ""},
		{"consume", []string{"consume", "t1", "-e", "--brokers", brokers}, "", 0, "hello\n", ""},
		{"unknown topic", []string{"topic", "describe", "nope", "--brokers", brokers}, "", 1, "", "samsa: topic \"nope\": UNKNOWN_TOPIC_OR_PARTITION"},
		{"unknown flag", []string{"topic", "list", "--nope"}, "", 1, "", "samsa: unknown flag: --nope"},
		{"help", []string{"--help"}, "", 0, "Usage:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			status := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d; stderr: %s", status, tc.wantStatus, errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("stdout %q lacks %q", out.String(), tc.wantOut)
			}
			if !strings.HasPrefix(errOut.String(), tc.wantErr) {
				t.Fatalf("stderr %q, want prefix %q", errOut.String(), tc.wantErr)
			}
			if tc.wantErr == "" && errOut.Len() > 0 {
				t.Fatalf("unexpected stderr %q", errOut.String())
			}
		})
	}
}
