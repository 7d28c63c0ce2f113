package topic

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newAlterConfigCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		sets, deletes, appends, subtracts []string
		dryRun                            bool
		out                               format.Format
	)
	cmd := &cobra.Command{
		Use:   "alter-config NAME... [--set k=v]... [--delete k]...",
		Short: "Change topic configs",
		Long: `Change topic configs incrementally (IncrementalAlterConfigs).

Only the keys named change; every other config keeps its value.
  --set k=v        set k to v
  --delete k       remove the topic's override of k (back to the default)
  --append k=v     add v to the list-valued config k (e.g. cleanup.policy)
  --subtract k=v   remove v from the list-valued config k
Each key may appear in one operation only.

Prints TOPIC and STATUS per topic; exits non-zero if any topic failed.

Examples:
  samsa topic alter-config orders --set retention.ms=3600000
  samsa topic alter-config orders --set cleanup.policy=compact --delete retention.bytes
  samsa topic alter-config orders payments --set min.insync.replicas=2 --dry-run`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			alters, err := buildAlterations(sets, deletes, appends, subtracts)
			if err != nil {
				return err
			}
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				names := uniq(args)
				alter := adm.AlterTopicConfigs
				if dryRun {
					alter = adm.ValidateAlterTopicConfigs
				}
				resps, err := alter(ctx, alters, names...)
				if err != nil {
					return fmt.Errorf("alter topic configs: %w", err)
				}
				rows := make([]status, 0, len(names))
				for _, name := range names {
					r, err := resps.On(name, nil)
					if err != nil {
						rows = append(rows, status{Topic: name, Status: "NO_RESPONSE", Message: "the broker did not answer for this topic"})
						continue
					}
					rows = append(rows, newStatus(name, r.Err, r.ErrMessage))
				}
				return printStatuses(cmd.OutOrStdout(), out, "alter-config", rows)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&sets, "set", nil, "set a config, key=value (repeatable)")
	fs.StringArrayVar(&deletes, "delete", nil, "delete a config override, key (repeatable)")
	fs.StringArrayVar(&appends, "append", nil, "append to a list config, key=value (repeatable)")
	fs.StringArrayVar(&subtracts, "subtract", nil, "remove from a list config, key=value (repeatable)")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the request without changing anything")
	format.AddFlag(fs, &out)
	return cmd
}

// buildAlterations turns the flags into incremental operations, in a stable
// order (set, append, subtract, delete; keys sorted within each).
func buildAlterations(sets, deletes, appends, subtracts []string) ([]kadm.AlterConfig, error) {
	var alters []kadm.AlterConfig
	seen := make(map[string]string)
	add := func(flag string, op kadm.IncrementalOp, kvs map[string]*string) error {
		keys := make([]string, 0, len(kvs))
		for k := range kvs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if prev, dup := seen[k]; dup {
				return fmt.Errorf("config %q given to both %s and %s", k, prev, flag)
			}
			seen[k] = flag
			alters = append(alters, kadm.AlterConfig{Op: op, Name: k, Value: kvs[k]})
		}
		return nil
	}
	for _, step := range []struct {
		flag  string
		op    kadm.IncrementalOp
		pairs []string
	}{
		{"--set", kadm.SetConfig, sets},
		{"--append", kadm.AppendConfig, appends},
		{"--subtract", kadm.SubtractConfig, subtracts},
	} {
		kvs, err := parseKeyValues(step.flag, step.pairs)
		if err != nil {
			return nil, err
		}
		if err := add(step.flag, step.op, kvs); err != nil {
			return nil, err
		}
	}
	dels := make(map[string]*string, len(deletes))
	for _, k := range deletes {
		k = strings.TrimSpace(k)
		if k == "" || strings.Contains(k, "=") {
			return nil, fmt.Errorf("--delete %q: want a config key", k)
		}
		dels[k] = nil
	}
	if err := add("--delete", kadm.DeleteConfig, dels); err != nil {
		return nil, err
	}
	if len(alters) == 0 {
		return nil, fmt.Errorf("nothing to change: give --set, --delete, --append or --subtract")
	}
	return alters, nil
}
