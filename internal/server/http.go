package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// startHTTP serves health and stats on the HTTP listener.
//
//	GET /healthz      200 "ok" once the node serves Kafka requests
//	GET /v1/stats     the broker's counters and the state of the partitions
//	                  it leads (under-replicated, under min ISR), as JSON
//	GET /v1/groups/lag  every group's committed offsets and lag per partition
//	                    (?group=G to select), as JSON
//	/debug/pprof/     Go runtime profiles (net/http/pprof)
func (n *Node) startHTTP() error {
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	n.httpLn = ln
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.broker.Stats())
	})
	mux.HandleFunc("GET /v1/groups/lag", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		lags, err := n.broker.GroupLag(ctx)
		if err != nil {
			http.Error(w, "group lag: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if want := r.URL.Query()["group"]; len(want) > 0 {
			kept := lags[:0]
			for _, g := range lags {
				if slices.Contains(want, g.Group) {
					kept = append(kept, g)
				}
			}
			lags = kept
		}
		if lags == nil {
			lags = []broker.GroupLag{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(lags)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	n.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go n.http.Serve(ln)
	return nil
}
