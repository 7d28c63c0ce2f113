// Command kfakeserver runs franz-go's in-memory fake Kafka broker (kfake) as
// its own process on a loopback port, as the baseline samsa's benchmarks are
// measured against (scripts/bench.sh). It prints "ADDR PID" on stdout and
// serves until SIGINT/SIGTERM. It is a measuring tool, not a broker: kfake
// keeps everything in memory and has no replication.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any free port)")
	flag.Parse()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if *port != 0 {
		opts = append(opts, kfake.Ports(*port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakeserver:", err)
		os.Exit(1)
	}
	fmt.Println(c.ListenAddrs()[0], os.Getpid())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
}
