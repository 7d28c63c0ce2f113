package topic

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestBuildAlterations(t *testing.T) {
	alters, err := buildAlterations(
		[]string{"retention.ms=1", "cleanup.policy=compact"},
		[]string{"segment.bytes"},
		[]string{"a=x"},
		[]string{"b=y"},
	)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range alters {
		v := "<nil>"
		if a.Value != nil {
			v = *a.Value
		}
		got = append(got, map[kadm.IncrementalOp]string{
			kadm.SetConfig: "set", kadm.DeleteConfig: "delete", kadm.AppendConfig: "append", kadm.SubtractConfig: "subtract",
		}[a.Op]+" "+a.Name+"="+v)
	}
	want := "set cleanup.policy=compact|set retention.ms=1|append a=x|subtract b=y|delete segment.bytes=<nil>"
	if strings.Join(got, "|") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}

	for _, tc := range []struct {
		name                              string
		sets, deletes, appends, subtracts []string
		err                               string
	}{
		{"nothing", nil, nil, nil, nil, "nothing to change"},
		{"set twice", []string{"a=1", "a=2"}, nil, nil, nil, "given twice"},
		{"set and delete", []string{"a=1"}, []string{"a"}, nil, nil, "given to both"},
		{"append and subtract", nil, nil, []string{"a=1"}, []string{"a=2"}, "given to both"},
		{"delete with value", nil, []string{"a=1"}, nil, nil, "want a config key"},
		{"set without =", []string{"a"}, nil, nil, nil, "want key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildAlterations(tc.sets, tc.deletes, tc.appends, tc.subtracts)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}

func TestParseKeyValuesAndUniq(t *testing.T) {
	kv, err := parseKeyValues("-c", []string{"a=1", "b=", "c=x=y", " d =z"})
	if err != nil {
		t.Fatal(err)
	}
	if *kv["a"] != "1" || *kv["b"] != "" || *kv["c"] != "x=y" || *kv["d"] != "z" {
		t.Fatalf("parsed %v", kv)
	}
	if got := uniq([]string{"b", "a", "b", "c", "a"}); strings.Join(got, ",") != "b,a,c" {
		t.Fatalf("uniq %v", got)
	}
}
