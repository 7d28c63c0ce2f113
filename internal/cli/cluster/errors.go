package cluster

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// withMessage attaches the broker's error message, when it sent one, to a
// Kafka error; the result still matches the error with errors.Is.
func withMessage(err error, msg *string) error {
	if msg == nil || *msg == "" {
		return err
	}
	return &kadm.ErrAndMessage{Err: err, ErrMessage: *msg}
}

// authHint says what permission is missing when err is an authorization
// failure on the cluster resource.
func authHint(err error) string {
	if errors.Is(err, kerr.ClusterAuthorizationFailed) {
		return " (the principal needs ALTER on the cluster to reassign partitions and elect leaders, DESCRIBE to list reassignments)"
	}
	return ""
}

// partitionStatus is the outcome of one partition in a reassignment or
// election request.
type partitionStatus struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Status is "OK" or the Kafka error name (ELECTION_NOT_NEEDED,
	// REASSIGNMENT_IN_PROGRESS, ...).
	Status string `json:"status"`
	// Message is the broker's error message or the error's description;
	// empty when Status is OK.
	Message string `json:"message"`
}

func newPartitionStatus(topic string, partition int32, err error, brokerMessage string) partitionStatus {
	name, desc := format.ErrorParts(err, brokerMessage)
	return partitionStatus{Topic: topic, Partition: partition, Status: name, Message: desc}
}

// failed reports whether the status is a failure: anything but OK and
// ELECTION_NOT_NEEDED (the partition already has the leader asked for).
func (p partitionStatus) failed() bool {
	return p.Status != "OK" && p.Status != kerr.ElectionNotNeeded.Message
}

// cell renders the status as the STATUS column shows it.
func (p partitionStatus) cell() string {
	if p.Message == "" {
		return p.Status
	}
	return p.Status + ": " + p.Message
}

// writeStatuses writes a TOPIC PARTITION STATUS table.
func writeStatuses(w io.Writer, rows []partitionStatus) error {
	t := format.NewTable("TOPIC", "PARTITION", "STATUS")
	for _, r := range rows {
		t.Row(r.Topic, r.Partition, r.cell())
	}
	return t.Write(w)
}

// summarize names up to three failed partitions and how many more failed,
// as "orders-0 (NOT_LEADER...), orders-1 (...) and 2 more".
func summarize(rows []partitionStatus) string {
	var parts []string
	n := 0
	for _, r := range rows {
		if !r.failed() {
			continue
		}
		n++
		if len(parts) < 3 {
			parts = append(parts, fmt.Sprintf("%s-%d (%s)", r.Topic, r.Partition, r.Status))
		}
	}
	s := strings.Join(parts, ", ")
	if n > len(parts) {
		s += fmt.Sprintf(" and %d more", n-len(parts))
	}
	return s
}

func countFailed(rows []partitionStatus) int {
	n := 0
	for _, r := range rows {
		if r.failed() {
			n++
		}
	}
	return n
}
