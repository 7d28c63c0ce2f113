package dev

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func testView() ClusterView {
	return ClusterView{
		Bootstrap: "127.0.0.1:19092,127.0.0.1:19093",
		Nodes: []NodeView{
			{Node: 1, Kafka: "127.0.0.1:19092", Controller: "127.0.0.1:19192", HTTP: "127.0.0.1:19292", Voter: true, PID: 101, Data: "/d/node-1", Log: "/d/node-1/samsa.log"},
			{Node: 2, Kafka: "127.0.0.1:19093", Controller: "127.0.0.1:19193", HTTP: "127.0.0.1:19293", Voter: false, PID: 102, Data: "/d/node-2", Log: "/d/node-2/samsa.log"},
		},
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := writeText(&b, testView()); err != nil {
		t.Fatal(err)
	}
	want := `NODE  KAFKA            CONTROLLER       HTTP             VOTER  PID  DATA
1     127.0.0.1:19092  127.0.0.1:19192  127.0.0.1:19292  true   101  /d/node-1
2     127.0.0.1:19093  127.0.0.1:19193  127.0.0.1:19293  false  102  /d/node-2

bootstrap servers: 127.0.0.1:19092,127.0.0.1:19093
  export SAMSA_BROKERS=127.0.0.1:19092,127.0.0.1:19093
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestJSONKeys(t *testing.T) {
	v := testView()
	var b bytes.Buffer
	if err := format.Print(&b, format.JSON, v, nil); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["bootstrap"] != v.Bootstrap {
		t.Errorf("bootstrap = %v", back["bootstrap"])
	}
	nodes := back["nodes"].([]any)
	first := nodes[0].(map[string]any)
	for _, k := range []string{"node", "kafka", "controller", "http", "voter", "pid", "data", "log"} {
		if _, ok := first[k]; !ok {
			t.Errorf("node key %q missing in %v", k, first)
		}
	}
}

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	var crash []string
	crash = append(crash, "level=INFO msg=a", "level=INFO msg=b", "panic: boom", "", "goroutine 1 [running]:")
	for i := range 40 {
		crash = append(crash, fmt.Sprintf("frame %d", i))
	}
	big := strings.Repeat(strings.Repeat("x", 99)+"\n", 2000) + "last\n"
	tests := []struct {
		name string
		path string
		n    int
		want string
	}{
		{"short file", write("short", "a\nb\n"), 5, "a\nb"},
		{"last lines", write("long", strings.Join(lines, "\n")+"\n"), 3, "line 27\nline 28\nline 29"},
		{"crash shown from its start", write("crash", strings.Join(crash, "\n")+"\n"), 4,
			"level=INFO msg=a\nlevel=INFO msg=b\npanic: boom\n\n... (41 more lines)"},
		{"big file", write("big", big), 1, "last"},
		{"missing", filepath.Join(dir, "nope"), 3, "(cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LogTail(tt.path, tt.n)
			if tt.name == "missing" {
				if !strings.HasPrefix(got, tt.want) {
					t.Fatalf("got %q", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
