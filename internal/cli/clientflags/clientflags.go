// Package clientflags holds the connection flags that every samsa client
// command shares and builds franz-go clients from them.
//
// Flags:
//
//	--brokers       seed brokers, host:port, comma separated or repeated.
//	                Precedence: the flag, then $SAMSA_BROKERS, then
//	                127.0.0.1:9092.
//	--client-id     the client.id sent in every request header.
//	--dial-timeout  how long to wait for a TCP connection.
//	--request-timeout
//	                the deadline for one admin command (metadata, create,
//	                describe, ...) including retries, and the delivery
//	                timeout of one produced record.
//
// A noun command (topic, produce, consume, cluster) creates one Flags with
// New, registers it on its persistent flag set, and its verbs call
// NewClient/NewAdmin when they run.
package clientflags

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBrokers is the environment variable read when --brokers is not given.
const EnvBrokers = "SAMSA_BROKERS"

// DefaultBroker is the seed broker used when neither --brokers nor
// $SAMSA_BROKERS is set.
const DefaultBroker = "127.0.0.1:9092"

// Default timeouts.
const (
	DefaultClientID       = "samsa-cli"
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 15 * time.Second
)

// maxBrokers bounds the seed list so a typo (or a pasted file) cannot make the
// client open thousands of connections.
const maxBrokers = 256

// Flags are the connection settings of a client command. The zero value is
// not ready; use New.
type Flags struct {
	// Brokers are the seed brokers given with --brokers.
	Brokers []string
	// ClientID is sent as client.id.
	ClientID string
	// DialTimeout bounds one TCP connect.
	DialTimeout time.Duration
	// RequestTimeout bounds one admin command and one record's delivery.
	RequestTimeout time.Duration

	// getenv reads the environment; tests replace it.
	getenv func(string) string
	// brokersSet reports whether --brokers was given on the command line.
	brokersSet func() bool
}

// New returns Flags holding the defaults.
func New() *Flags {
	return &Flags{
		ClientID:       DefaultClientID,
		DialTimeout:    DefaultDialTimeout,
		RequestTimeout: DefaultRequestTimeout,
		getenv:         os.Getenv,
		brokersSet:     func() bool { return false },
	}
}

// Register adds the connection flags to fs (normally a noun command's
// persistent flags, so that every verb below it accepts them).
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.Brokers, "brokers", nil,
		"seed brokers, host:port[,host:port...] (default $"+EnvBrokers+", else "+DefaultBroker+")")
	fs.StringVar(&f.ClientID, "client-id", f.ClientID, "client.id sent to the brokers")
	fs.DurationVar(&f.DialTimeout, "dial-timeout", f.DialTimeout, "timeout for connecting to a broker")
	fs.DurationVar(&f.RequestTimeout, "request-timeout", f.RequestTimeout,
		"deadline for an admin command, including retries, and for delivering one produced record")
	f.brokersSet = func() bool {
		fl := fs.Lookup("brokers")
		return fl != nil && fl.Changed
	}
}

// SeedBrokers returns the brokers to bootstrap from: --brokers if given, else
// $SAMSA_BROKERS if set, else DefaultBroker. Every entry must be host:port or
// host (port 9092 is then assumed).
func (f *Flags) SeedBrokers() ([]string, error) {
	raw := f.Brokers
	if !f.brokersSet() || len(raw) == 0 {
		if env := strings.TrimSpace(f.getenv(EnvBrokers)); env != "" {
			raw = strings.Split(env, ",")
		} else if len(raw) == 0 {
			raw = []string{DefaultBroker}
		}
	}
	if len(raw) > maxBrokers {
		return nil, fmt.Errorf("too many seed brokers: %d (at most %d)", len(raw), maxBrokers)
	}
	seeds := make([]string, 0, len(raw))
	for _, b := range raw {
		b = strings.TrimSpace(b)
		if b == "" {
			return nil, fmt.Errorf("empty broker address in %q", strings.Join(raw, ","))
		}
		if err := checkHostPort(b); err != nil {
			return nil, err
		}
		seeds = append(seeds, b)
	}
	return seeds, nil
}

// checkHostPort accepts "host", "host:port" and "[ipv6]:port".
func checkHostPort(addr string) error {
	if !strings.Contains(addr, ":") {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad broker address %q: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("bad broker address %q: missing host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("bad broker address %q: port must be 1..65535", addr)
	}
	return nil
}

// Opts returns the kgo options for these flags followed by extra.
func (f *Flags) Opts(extra ...kgo.Opt) ([]kgo.Opt, error) {
	seeds, err := f.SeedBrokers()
	if err != nil {
		return nil, err
	}
	if f.DialTimeout <= 0 {
		return nil, fmt.Errorf("--dial-timeout must be positive, got %v", f.DialTimeout)
	}
	if f.RequestTimeout <= 0 {
		return nil, fmt.Errorf("--request-timeout must be positive, got %v", f.RequestTimeout)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(f.ClientID),
		kgo.DialTimeout(f.DialTimeout),
		kgo.RetryTimeout(f.RequestTimeout),
	}
	return append(opts, extra...), nil
}

// NewClient builds a kgo client from the flags and extra options. The caller
// closes it.
func (f *Flags) NewClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := f.Opts(extra...)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return cl, nil
}

// NewAdmin builds an admin client whose broker-side operation timeout is
// --request-timeout. The caller closes it.
func (f *Flags) NewAdmin() (*kadm.Client, error) {
	cl, err := f.NewClient()
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(f.RequestTimeout.Milliseconds(), 1<<31-1)))
	return adm, nil
}

// RequestContext returns parent bounded by --request-timeout, for one admin
// command.
func (f *Flags) RequestContext(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, f.RequestTimeout)
}

// RunAdmin runs one admin command: it opens an admin client, bounds parent
// by --request-timeout, calls run and closes the client.
func (f *Flags) RunAdmin(parent context.Context, run func(ctx context.Context, adm *kadm.Client) error) error {
	adm, err := f.NewAdmin()
	if err != nil {
		return err
	}
	defer adm.Close()
	ctx, cancel := f.RequestContext(parent)
	defer cancel()
	return run(ctx, adm)
}
