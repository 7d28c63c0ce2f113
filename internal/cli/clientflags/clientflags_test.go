package clientflags

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func parse(t *testing.T, env string, args ...string) (*Flags, error) {
	t.Helper()
	f := New()
	f.getenv = func(k string) string {
		if k == EnvBrokers {
			return env
		}
		return ""
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Register(fs)
	return f, fs.Parse(args)
}

func TestSeedBrokersPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want []string
		err  string
	}{
		{"default", "", nil, []string{DefaultBroker}, ""},
		{"env", "a:1, b:2", nil, []string{"a:1", "b:2"}, ""},
		{"flag beats env", "a:1", []string{"--brokers", "c:3"}, []string{"c:3"}, ""},
		{"list and repeat", "", []string{"--brokers", "c:3,d:4", "--brokers", "e"}, []string{"c:3", "d:4", "e"}, ""},
		{"ipv6", "", []string{"--brokers", "[::1]:9092"}, []string{"[::1]:9092"}, ""},
		{"empty entry", "a:1,,b:2", nil, nil, "empty broker address"},
		{"bad port", "", []string{"--brokers", "a:http"}, nil, "port must be"},
		{"port zero", "", []string{"--brokers", "a:0"}, nil, "port must be"},
		{"no host", "", []string{"--brokers", ":9092"}, nil, "missing host"},
		{"bare ipv6", "", []string{"--brokers", "::1"}, nil, "bad broker address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parse(t, tc.env, tc.args...)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := f.SeedBrokers()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

func TestTooManyBrokers(t *testing.T) {
	env := strings.Repeat("a:1,", maxBrokers) + "a:1"
	f, err := parse(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SeedBrokers(); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("err %v", err)
	}
}

func TestOptsValidateTimeouts(t *testing.T) {
	f, err := parse(t, "", "--request-timeout", "0s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Opts(); err == nil || !strings.Contains(err.Error(), "--request-timeout") {
		t.Fatalf("err %v", err)
	}
	f, err = parse(t, "", "--dial-timeout", "-1s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Opts(); err == nil || !strings.Contains(err.Error(), "--dial-timeout") {
		t.Fatalf("err %v", err)
	}
}

func TestClientsAndContext(t *testing.T) {
	f, err := parse(t, "", "--client-id", "me", "--request-timeout", "3s")
	if err != nil {
		t.Fatal(err)
	}
	if f.ClientID != "me" || f.RequestTimeout != 3*time.Second {
		t.Fatalf("flags: %+v", f)
	}
	// Creating clients does not connect; nothing listens on the default.
	cl, err := f.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	adm, err := f.NewAdmin()
	if err != nil {
		t.Fatal(err)
	}
	adm.Close()
	ctx, cancel := f.RequestContext(context.Background())
	defer cancel()
	dl, ok := ctx.Deadline()
	if !ok || time.Until(dl) > 3*time.Second {
		t.Fatalf("deadline %v %v", dl, ok)
	}
}
