package compat

import (
	"os"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// startBroker returns the address (host:port) of the broker the suite runs
// against: a real samsa node started in-process on free loopback ports with
// its data in a temporary directory. Everything else in this package reaches
// the broker only through that address.
//
// If SAMSA_TEST_BROKERS is set (a comma-separated seed list), the suite uses
// that broker and starts nothing — handy for running the suite against any
// Kafka-compatible broker.
func startBroker(t *testing.T) (addr string) {
	t.Helper()
	if env := strings.TrimSpace(os.Getenv("SAMSA_TEST_BROKERS")); env != "" {
		return env
	}
	return testserver.Start(t, testserver.Options{}).KafkaAddr()
}
