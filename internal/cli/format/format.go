// Package format is the one output implementation shared by samsa's client
// commands.
//
// Every command that prints a result takes `--format text|json|yaml`:
//
//   - text: aligned tables whose headers are Kafka's (and rpk's) column names
//     in upper case (TOPIC, PARTITION, HIGH-WATERMARK), and "SECTION" blocks of
//     aligned key/value pairs for summaries.
//   - json: the command's result value encoded with encoding/json, indented
//     by two spaces, keys in lower_snake case as the result types declare
//     them in their `json` tags. Keys are stable: a key is present (possibly
//     null or empty) whether or not it has a value.
//   - yaml: the same document as json, re-encoded as block YAML, so the two
//     machine formats always carry the same keys in the same order.
//
// Commands build a result value (a slice or struct with `json` tags) and a
// function that renders it as text, then call Print.
package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kerr"
	"gopkg.in/yaml.v3"
)

// Format is an output format selected with --format.
type Format string

// The formats every command accepts.
const (
	Text Format = "text"
	JSON Format = "json"
	YAML Format = "yaml"
)

// Parse returns the Format named by s (case-insensitive).
func Parse(s string) (Format, error) {
	switch Format(strings.ToLower(strings.TrimSpace(s))) {
	case Text:
		return Text, nil
	case JSON:
		return JSON, nil
	case YAML, "yml":
		return YAML, nil
	}
	return "", fmt.Errorf("unknown format %q (want text, json or yaml)", s)
}

// String returns the format's name; it makes *Format a pflag.Value.
func (f *Format) String() string {
	if *f == "" {
		return string(Text)
	}
	return string(*f)
}

// Set parses s into f; it makes *Format a pflag.Value.
func (f *Format) Set(s string) error {
	p, err := Parse(s)
	if err != nil {
		return err
	}
	*f = p
	return nil
}

// Type names the flag's value type in help output.
func (f *Format) Type() string { return "text|json|yaml" }

// AddFlag registers --format on fs, storing the choice in f (default text).
func AddFlag(fs *pflag.FlagSet, f *Format) {
	*f = Text
	fs.Var(f, "format", "output format: text, json or yaml")
}

// Print writes v to w in format f. For Text it calls text, which renders the
// human form; for JSON and YAML it encodes v itself.
func Print(w io.Writer, f Format, v any, text func(w io.Writer) error) error {
	switch f {
	case "", Text:
		return text(w)
	case JSON:
		b, err := marshalJSON(v)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case YAML:
		b, err := MarshalYAML(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("format: unknown format %q", f)
}

func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("format: encode json: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// MarshalYAML encodes v as block YAML with the keys and key order of its JSON
// encoding (YAML is a superset of JSON, so the JSON document is parsed into a
// YAML node tree and re-emitted in block style).
func MarshalYAML(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("format: encode json for yaml: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(j, &doc); err != nil {
		return nil, fmt.Errorf("format: parse json as yaml: %w", err)
	}
	blockStyle(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("format: encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("format: encode yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// blockStyle clears the flow and quoting styles the JSON input left on every
// node, so the encoder picks block collections and quotes only when needed.
// Lists of scalars (replica lists) and empty collections stay in flow style:
// [1, 2, 3], [] and {}.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
		flow := n.Kind == yaml.SequenceNode || len(n.Content) == 0
		for _, c := range n.Content {
			flow = flow && c.Kind == yaml.ScalarNode
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// ErrorStatus renders the outcome of a per-resource operation the way the
// STATUS column shows it: "OK" for a nil error, otherwise the error (for a
// Kafka error its name, e.g. "TOPIC_ALREADY_EXISTS: Topic 'a' already
// exists.", preferring the broker's message over the generic description).
func ErrorStatus(err error, brokerMessage string) string {
	if err == nil {
		return "OK"
	}
	name, desc := ErrorParts(err, brokerMessage)
	if desc == "" {
		return name
	}
	return name + ": " + desc
}

// ErrorParts splits err into a short name (the Kafka error name for Kafka
// errors, such as UNKNOWN_TOPIC_OR_PARTITION) and a description (the
// broker's message when it sent one, else the error's own description).
func ErrorParts(err error, brokerMessage string) (name, description string) {
	if err == nil {
		return "OK", ""
	}
	if ke, ok := errors.AsType[*kerr.Error](err); ok {
		name, description = ke.Message, ke.Description
	} else {
		name = err.Error()
	}
	if brokerMessage != "" {
		description = brokerMessage
	}
	return name, description
}
