// Command samsa is the single samsa binary: the broker (`samsa server`) and
// the client commands (topic, produce, consume, cluster). main only builds
// the command tree and turns its result into an exit status.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/samsa-streaming/samsa/internal/cli"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit status:
// 0 on success, 1 when the command returned an error (printed to stderr as
// "samsa: <error>"). The first SIGINT or SIGTERM cancels the command's
// context, which commands treat as a request to stop cleanly; a second one
// kills the process as usual.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default signal handling for the second signal
	}()

	root := cli.NewRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "samsa: %v\n", err)
		return 1
	}
	return 0
}
