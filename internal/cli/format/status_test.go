package format

import (
	"bytes"
	"slices"
	"testing"
)

// testRow is a status row with its own JSON key, as a command declares it.
type testRow struct {
	Group   string `json:"group"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (r testRow) StatusParts() (string, string, string) { return r.Group, r.Status, r.Message }

func TestPrintStatuses(t *testing.T) {
	ok := testRow{Group: "audit", Status: "OK"}
	bad := testRow{Group: "billing", Status: "NON_EMPTY_GROUP", Message: "The group is not empty."}
	for _, tc := range []struct {
		name    string
		f       Format
		rows    []testRow
		want    string
		wantErr string
	}{
		{"text all ok", Text, []testRow{ok},
			"GROUP  STATUS\naudit  OK\n", ""},
		{"text one failed", Text, []testRow{ok, bad},
			"GROUP    STATUS\naudit    OK\nbilling  NON_EMPTY_GROUP: The group is not empty.\n",
			"delete: 1 of 2 groups failed"},
		{"json keeps the row's keys", JSON, []testRow{bad},
			"[\n  {\n    \"group\": \"billing\",\n    \"status\": \"NON_EMPTY_GROUP\",\n    \"message\": \"The group is not empty.\"\n  }\n]\n",
			"delete: 1 of 1 groups failed"},
		{"yaml", YAML, []testRow{ok},
			"- group: audit\n  status: OK\n  message: \"\"\n", ""},
		{"no rows", Text, nil, "GROUP  STATUS\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := PrintStatuses(&buf, tc.f, "GROUP", "delete", tc.rows)
			if buf.String() != tc.want {
				t.Errorf("output:\n%q\nwant:\n%q", buf.String(), tc.want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestUniqueNames(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, []string{}},
		{[]string{"a"}, []string{"a"}},
		{[]string{"b", "a", "b", "c", "a"}, []string{"b", "a", "c"}},
	} {
		if got := UniqueNames(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("UniqueNames(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
