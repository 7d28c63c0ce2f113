package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Flags are the command-line settings of `samsa server`, bound to a pflag set
// by BindFlags.
type Flags struct {
	ConfigFile string
	Sets       []string
	named      map[string]*string // property name -> flag value
	fs         *pflag.FlagSet
}

// BindFlags registers --config, --set and one flag per property that has a
// dedicated flag name.
func BindFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{named: map[string]*string{}, fs: fs}
	fs.StringVar(&f.ConfigFile, "config", "", "config file in server.properties syntax (name=value lines)")
	fs.StringArrayVar(&f.Sets, "set", nil, "set any property, e.g. --set log.retention.ms=3600000 (repeatable)")
	for _, p := range properties {
		if p.flag == "" {
			continue
		}
		f.named[p.name] = fs.String(p.flag, p.def, p.doc+" ("+p.name+", env "+EnvName(p.name)+")")
		if p.def == "true" || p.def == "false" {
			fs.Lookup(p.flag).NoOptDefVal = "true" // --fsync-on-ack alone means true
		}
	}
	return f
}

// values returns the properties given on the command line (only flags that
// were actually set, then --set entries).
func (f *Flags) values() ([][2]string, error) {
	var out [][2]string
	for name, v := range f.named {
		if f.fs.Changed(lookup(name).flag) {
			out = append(out, [2]string{name, *v})
		}
	}
	for _, s := range f.Sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want name=value", s)
		}
		out = append(out, [2]string{strings.TrimSpace(k), v})
	}
	return out, nil
}

// Load resolves the configuration: defaults, then the config file named by
// flags (if any), then environ (os.Environ form), then flags. flags may be nil.
func Load(flags *Flags, environ []string) (*Broker, error) {
	b := &Broker{values: map[string]string{}, sources: map[string]Source{}}
	for _, p := range properties {
		if err := b.apply(p.name, p.def, SourceDefault); err != nil {
			return nil, fmt.Errorf("config: default of %s: %w", p.name, err)
		}
	}
	if flags != nil && flags.ConfigFile != "" {
		f, err := os.Open(flags.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		pairs, err := ParseProperties(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", flags.ConfigFile, err)
		}
		for _, kv := range pairs {
			if err := b.apply(kv[0], kv[1], SourceFile); err != nil {
				return nil, fmt.Errorf("config: %s: %w", flags.ConfigFile, err)
			}
		}
	}
	for _, e := range environ {
		k, v, ok := strings.Cut(e, "=")
		if !ok || !strings.HasPrefix(k, "SAMSA_") {
			continue
		}
		name := nameForEnv(k)
		if name == "" {
			continue // SAMSA_BROKERS and other client-side variables
		}
		if err := b.apply(name, v, SourceEnv); err != nil {
			return nil, fmt.Errorf("config: environment %s: %w", k, err)
		}
	}
	if flags != nil {
		pairs, err := flags.values()
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		for _, kv := range pairs {
			if err := b.apply(kv[0], kv[1], SourceFlag); err != nil {
				return nil, fmt.Errorf("config: flag: %w", err)
			}
		}
	}
	if b.AdvertisedAddr == "" {
		b.AdvertisedAddr = b.KafkaAddr
	}
	return b, nil
}

// apply sets one property (or alias) from a source.
func (b *Broker) apply(name, value string, src Source) error {
	if a, ok := aliases[name]; ok {
		v, err := a.convert(value)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		name, value = a.target, v
	}
	p := lookup(name)
	if p == nil {
		return fmt.Errorf("unknown property %q (see `samsa server --help` for the list)", name)
	}
	if err := p.set(b, value); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	b.values[name] = strings.TrimSpace(value)
	b.sources[name] = src
	return nil
}

// nameForEnv maps SAMSA_LOG_RETENTION_MS back to log.retention.ms; "" if no
// property or alias has that variable.
func nameForEnv(env string) string {
	for _, p := range properties {
		if EnvName(p.name) == env {
			return p.name
		}
		if p.flag != "" && "SAMSA_"+strings.ToUpper(strings.ReplaceAll(p.flag, "-", "_")) == env {
			return p.name
		}
	}
	for alias := range aliases {
		if EnvName(alias) == env {
			return alias
		}
	}
	return ""
}

// ParseProperties reads Java properties syntax: name=value or name: value
// lines, blank lines and '#'/'!' comments ignored. Values are trimmed.
func ParseProperties(r io.Reader) ([][2]string, error) {
	var out [][2]string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == '!' {
			continue
		}
		i := strings.IndexAny(s, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("line %d: want name=value, got %q", line, s)
		}
		out = append(out, [2]string{strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line, err)
	}
	return out, nil
}
