package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// runClusterNode runs one node of a JetStream cluster: client port
// host:port, the route listener cfg.ClusterAddr, routes to cfg.Routes and
// a file store in cfg.StoreDir, until ctx ends. The node accepts clients
// at once; JetStream answers once a majority of the nodes elected a meta
// leader (the services' stream ensurers retry until then).
func runClusterNode(ctx context.Context, cfg Config, host string, port int, log *slog.Logger) error {
	routeHost, routePortText, err := net.SplitHostPort(cfg.ClusterAddr)
	if err != nil {
		return fmt.Errorf("NATS_CLUSTER_ADDR %q: %w", cfg.ClusterAddr, err)
	}
	routePort, err := strconv.Atoi(routePortText)
	if err != nil {
		return fmt.Errorf("NATS_CLUSTER_ADDR %q: %w", cfg.ClusterAddr, err)
	}
	if len(cfg.Routes) == 0 {
		return errors.New("NATS_CLUSTER_ADDR needs NATS_ROUTES (the route URLs of the cluster's nodes)")
	}
	var routes []*url.URL
	for _, r := range cfg.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "nats" || u.Port() == "" {
			return fmt.Errorf("NATS_ROUTES: %q is not a nats://host:port URL", r)
		}
		routes = append(routes, u)
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o750); err != nil {
		return fmt.Errorf("NATS_STORE_DIR: %w", err)
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		// NoAdvertise: clients know the nodes from their NATS_URL only.
		// Advertised node addresses would let a client of the scale suite
		// bypass the proxies it was given in front of the nodes.
		Cluster: server.ClusterOpts{Name: cfg.ClusterName, Host: routeHost, Port: routePort, NoAdvertise: true},
		Routes:  routes,
		NoSigs:  true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("nats cluster node: %w", err)
	}
	// The server's own log lines go to stderr, which the launcher keeps
	// in the node's log file.
	ns.ConfigureLogger()
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return errors.New("nats cluster node: not ready for clients after 30s")
	}
	log.InfoContext(ctx, "NATS cluster node ready", "name", cfg.ServerName, "client", ns.ClientURL(),
		"cluster", cfg.ClusterName, "route", cfg.ClusterAddr, "routes", cfg.Routes)
	<-ctx.Done()
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}
