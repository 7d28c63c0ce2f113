package dev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// layoutFile records, in --dir, the shape of the cluster whose data lives
// there: restarting it with another node count or other ports would not
// match the quorum stored in the data.
const layoutFile = "samsa-dev.json"

// maxLayoutBytes bounds the layout file read back.
const maxLayoutBytes = 4 << 10

// layout is the content of layoutFile.
type layout struct {
	Nodes    int `json:"nodes"`
	BasePort int `json:"base_port"`
}

// checkLayout returns an error if dir holds a cluster of another shape than
// want. A dir without a layout file is fine.
func checkLayout(dir string, want layout) error {
	path := filepath.Join(dir, layoutFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLayoutBytes+1))
	if err != nil {
		return fmt.Errorf("dev: read %s: %w", path, err)
	}
	if len(b) > maxLayoutBytes {
		return fmt.Errorf("dev: %s is larger than %d bytes; is it really samsa dev's?", path, maxLayoutBytes)
	}
	var got layout
	if err := json.Unmarshal(b, &got); err != nil {
		return fmt.Errorf("dev: %s: %w", path, err)
	}
	if got != want {
		return fmt.Errorf("%s holds a cluster of %d node(s) with --base-port %d; start it with --nodes %d --base-port %d, or use another --dir",
			dir, got.Nodes, got.BasePort, got.Nodes, got.BasePort)
	}
	return nil
}

// writeLayout records l in dir, creating dir.
func writeLayout(dir string, l layout) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("dev: encode layout: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, layoutFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	return nil
}
