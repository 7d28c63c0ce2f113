package format

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Table is a text table with aligned columns. Headers are written as given;
// by convention they are Kafka's column names in upper case.
type Table struct {
	header []string
	rows   [][]string
}

// NewTable returns an empty table with the given column headers.
func NewTable(header ...string) *Table {
	return &Table{header: header}
}

// Row appends a row; each cell is rendered with Cell.
func (t *Table) Row(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = Cell(c)
	}
	t.rows = append(t.rows, row)
}

// Len returns the number of rows added so far.
func (t *Table) Len() int { return len(t.rows) }

// Write renders the table to w: the header line, then one line per row,
// columns separated by at least two spaces, no trailing blanks.
func (t *Table) Write(w io.Writer) error {
	lines := make([][]string, 0, len(t.rows)+1)
	lines = append(lines, t.header)
	lines = append(lines, t.rows...)
	if err := writeAligned(w, lines); err != nil {
		return fmt.Errorf("format: write table: %w", err)
	}
	return nil
}

// cellCleaner replaces the characters that would break column alignment.
var cellCleaner = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

// writeAligned writes lines of cells with aligned columns (two spaces
// between columns) and without trailing blanks.
func writeAligned(w io.Writer, lines [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, cells := range lines {
		for i, c := range cells {
			if i > 0 {
				tw.Write([]byte{'\t'})
			}
			io.WriteString(tw, cellCleaner.Replace(c))
		}
		tw.Write([]byte{'\n'})
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out bytes.Buffer
	for line := range bytes.Lines(buf.Bytes()) {
		out.Write(bytes.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := w.Write(out.Bytes())
	return err
}

// Cell renders one table cell: integers in decimal, int32 slices (replica
// lists) as "[1 2 3]", nil as "", anything else with fmt's %v.
func Cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case []int32:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.FormatInt(int64(n), 10)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case fmt.Stringer:
		return x.String()
	case error:
		return x.Error()
	}
	return fmt.Sprint(v)
}

// Section writes a section title underlined with "=", as rpk does, preceded
// by a blank line unless first is true.
func Section(w io.Writer, title string, first bool) {
	if !first {
		io.WriteString(w, "\n")
	}
	io.WriteString(w, title+"\n"+strings.Repeat("=", len(title))+"\n")
}

// KV is one key/value line of a summary section.
type KV struct {
	Key   string
	Value any
}

// WriteKVs writes key/value pairs with the values aligned in one column.
func WriteKVs(w io.Writer, kvs ...KV) error {
	lines := make([][]string, len(kvs))
	for i, kv := range kvs {
		lines[i] = []string{kv.Key, Cell(kv.Value)}
	}
	if err := writeAligned(w, lines); err != nil {
		return fmt.Errorf("format: write summary: %w", err)
	}
	return nil
}
