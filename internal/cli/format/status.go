package format

import (
	"fmt"
	"io"
	"strings"
)

// StatusRow is one row of a per-resource status table (TOPIC STATUS, GROUP
// STATUS): the outcome of one operation on one named resource. Commands
// implement it on their own row type, whose `json` tags give the machine
// formats their keys.
type StatusRow interface {
	// StatusParts returns the resource's name, its status ("OK" or the
	// Kafka error name, such as TOPIC_ALREADY_EXISTS) and a message (the
	// broker's error message or the error's description; empty when the
	// status is OK).
	StatusParts() (name, status, message string)
}

// PrintStatuses prints rows in format f: for text a table with the columns
// key (such as "TOPIC" or "GROUP") and STATUS, the status followed by ": "
// and the message when there is one; for JSON and YAML the rows themselves.
// It returns an error naming how many rows failed (status not "OK"), such as
// "delete: 1 of 2 topics failed", so that the command exits non-zero when
// any resource failed; the noun is key in lower case with an "s" appended.
func PrintStatuses[R StatusRow](w io.Writer, f Format, key, verb string, rows []R) error {
	err := Print(w, f, rows, func(w io.Writer) error {
		t := NewTable(key, "STATUS")
		for _, r := range rows {
			name, s, msg := r.StatusParts()
			if msg != "" {
				s += ": " + msg
			}
			t.Row(name, s)
		}
		return t.Write(w)
	})
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range rows {
		if _, s, _ := r.StatusParts(); s != "OK" {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d %ss failed", verb, failed, len(rows), strings.ToLower(key))
	}
	return nil
}

// UniqueNames returns names without duplicates, keeping the first
// occurrence, so that a per-resource command asks about each name once and
// prints one status row for it.
func UniqueNames(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
