package group

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newDeleteCommand(cf *clientflags.Flags) *cobra.Command {
	var out format.Format
	cmd := &cobra.Command{
		Use:     "delete GROUP...",
		Aliases: []string{"rm"},
		Short:   "Delete consumer groups and their committed offsets",
		Long: `Delete one or more consumer groups and their committed offsets
(DeleteGroups).

Only a group without members can be deleted; a group that still has
consumers fails with NON_EMPTY_GROUP, and one that does not exist with
GROUP_ID_NOT_FOUND. Prints GROUP and STATUS per group; exits non-zero if any
group was not deleted. There is no confirmation prompt.

Examples:
  samsa group delete audit
  samsa group delete audit billing --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				names := uniq(args)
				resps, err := adm.DeleteGroups(ctx, names...)
				shardErrs, partial := errors.AsType[*kadm.ShardErrors](err)
				if err != nil && !partial {
					return fmt.Errorf("delete groups: %w", err)
				}
				rows := make([]status, 0, len(names))
				for _, name := range names {
					r, ok := resps[name]
					if !ok {
						rows = append(rows, unanswered(name, shardErrs))
						continue
					}
					st, msg := format.ErrorParts(r.Err, r.ErrMessage)
					rows = append(rows, status{Group: name, Status: st, Message: msg})
				}
				return printStatuses(cmd.OutOrStdout(), out, "delete", rows)
			})
		},
	}
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}

// unanswered is the row of a group missing from the responses: the error of
// the request that carried it, when a coordinator failed.
func unanswered(group string, shardErrs *kadm.ShardErrors) status {
	if shardErrs != nil {
		for _, se := range shardErrs.Errs {
			if req, ok := se.Req.(*kmsg.DeleteGroupsRequest); ok && slices.Contains(req.Groups, group) {
				name, desc := format.ErrorParts(se.Err, "")
				return status{Group: group, Status: name, Message: desc}
			}
		}
	}
	return status{Group: group, Status: "NO_RESPONSE", Message: "the coordinator did not answer for this group"}
}
