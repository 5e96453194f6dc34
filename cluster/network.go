package cluster

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Network supplies the wire a node runs on: memberlist's gossip transport
// and a stream listener/dialer for node-to-node RPC. NetNetwork is real
// UDP/TCP; the simulator package provides an in-memory Network with fault
// injection. Everything above the Network is the same code.
//
// Bind may be called concurrently for different nodes.
type Network interface {
	// Bind attaches one node to the network.
	Bind(cfg BindConfig) (Endpoint, error)
}

// BindConfig says where a node attaches to a Network.
type BindConfig struct {
	// Name is the node's name.
	Name string
	// Bind is the "host:port" to listen on for gossip; port 0 picks a free port.
	Bind string
	// Advertise, when set, is the "host:port" other nodes use to reach the
	// gossip endpoint (for NAT or a 0.0.0.0 bind).
	Advertise string
	// Logger receives transport diagnostics.
	Logger *slog.Logger
}

// Endpoint is one node's attachment to a Network. Its methods may be called
// concurrently; Close is idempotent.
type Endpoint interface {
	// Transport carries memberlist's packets and streams.
	Transport() memberlist.NodeAwareTransport
	// GossipAddr is the advertised gossip address: the address seeds use.
	GossipAddr() (ip string, port int)
	// Listener accepts RPC streams from other nodes.
	Listener() net.Listener
	// RPCAddr is the advertised address other nodes Dial for RPC.
	RPCAddr() string
	// Dial opens an RPC stream to another node's RPCAddr.
	Dial(ctx context.Context, addr string) (net.Conn, error)
	// Close releases the transport and the listener.
	Close() error
}

// NetNetwork is the real network: memberlist's UDP/TCP NetTransport for
// gossip and a TCP listener on the same IP (port chosen by the OS) for RPC.
type NetNetwork struct{}

// Bind implements Network.
func (NetNetwork) Bind(cfg BindConfig) (Endpoint, error) {
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1:0"
	}
	host, port, err := splitHostPort(cfg.Bind, "bind")
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host},
		BindPort:  port,
		Logger:    log.New(slogWriter{logger}, "", 0),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: bind gossip on %s: %w", cfg.Bind, err)
	}
	advHost, advPort := host, nt.GetAutoBindPort()
	if cfg.Advertise != "" {
		advHost, advPort, err = splitHostPort(cfg.Advertise, "advertise")
		if err != nil {
			_ = nt.Shutdown()
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		_ = nt.Shutdown()
		return nil, fmt.Errorf("cluster: bind rpc on %s: %w", host, err)
	}
	rpcPort := ln.Addr().(*net.TCPAddr).Port
	rpcHost := advHost
	if ip := net.ParseIP(rpcHost); ip != nil && ip.IsUnspecified() {
		rpcHost = "127.0.0.1"
	}
	return &netEndpoint{
		nt:      nt,
		ln:      ln,
		advHost: advHost,
		advPort: advPort,
		rpcAddr: net.JoinHostPort(rpcHost, strconv.Itoa(rpcPort)),
	}, nil
}

type netEndpoint struct {
	nt      *memberlist.NetTransport
	ln      net.Listener
	advHost string
	advPort int
	rpcAddr string
	once    sync.Once
}

func (e *netEndpoint) Transport() memberlist.NodeAwareTransport { return e.nt }
func (e *netEndpoint) GossipAddr() (string, int)                { return e.advHost, e.advPort }
func (e *netEndpoint) Listener() net.Listener                   { return e.ln }
func (e *netEndpoint) RPCAddr() string                          { return e.rpcAddr }

func (e *netEndpoint) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (e *netEndpoint) Close() error {
	var err error
	e.once.Do(func() {
		err = e.ln.Close()
		if serr := e.nt.Shutdown(); serr != nil && err == nil {
			err = serr
		}
	})
	return err
}

func splitHostPort(hp, what string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("cluster: %s address %q: %w", what, hp, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("cluster: %s address %q: bad port", what, hp)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// slogWriter adapts memberlist's *log.Logger output to slog at debug level,
// keeping warnings and errors visible at their level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	for len(msg) > 0 && (msg[len(msg)-1] == '\n') {
		msg = msg[:len(msg)-1]
	}
	level := slog.LevelDebug
	switch {
	case strings.Contains(msg, "[ERR]"):
		level = slog.LevelError
	case strings.Contains(msg, "[WARN] memberlist: Refuting"):
		// A node clearing a suspicion about itself: routine after a
		// partition heals or a slow probe.
		level = slog.LevelInfo
	case strings.Contains(msg, "[WARN]"):
		level = slog.LevelWarn
	}
	w.l.Log(context.Background(), level, msg, "component", "memberlist")
	return len(p), nil
}

var _ io.Writer = slogWriter{}

// deadlineCtx returns the earliest of ctx's deadline and now+d.
func deadlineCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
