package cluster_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

func startNode(t *testing.T, cfg cluster.Config) *cluster.Node {
	t.Helper()
	if cfg.Profile == "" {
		cfg.Profile = cluster.ProfileLocal
	}
	n, err := cluster.NewNode(cfg)
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(n.Halt)
	return n
}

func TestJoinFailuresSayWhich(t *testing.T) {
	key := []byte("0123456789abcdef")
	seed := startNode(t, cluster.Config{Name: "seed", SecretKey: key, Label: "prod"})
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		return addr
	}()
	tests := []struct {
		name  string
		cfg   cluster.Config
		seeds []string
		want  error
	}{
		{"wrong key", cluster.Config{Name: "b", SecretKey: []byte("fedcba9876543210"), Label: "prod"}, []string{seed.Addr()}, cluster.ErrKeyMismatch},
		{"missing key", cluster.Config{Name: "c", Label: "prod"}, []string{seed.Addr()}, cluster.ErrKeyMismatch},
		{"wrong label", cluster.Config{Name: "d", SecretKey: key, Label: "staging"}, []string{seed.Addr()}, cluster.ErrLabelMismatch},
		{"unreachable seed", cluster.Config{Name: "e", SecretKey: key, Label: "prod"}, []string{refused}, cluster.ErrNoSeed},
		{"name clash", cluster.Config{Name: "seed", SecretKey: key, Label: "prod"}, []string{seed.Addr()}, cluster.ErrNameClash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startNode(t, tt.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			_, err := n.Join(ctx, tt.seeds)
			require.ErrorIs(t, err, tt.want)
			assert.Less(t, time.Since(start), 5*time.Second, "fails within the join timeout, not a hang")
			t.Logf("%s: %v", tt.name, err)
		})
	}
	t.Run("right key and label", func(t *testing.T) {
		n := startNode(t, cluster.Config{Name: "ok", SecretKey: key, Label: "prod"})
		_, err := n.Join(context.Background(), []string{seed.Addr()})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(seed.AliveMembers()) == 2 }, 5*time.Second, 10*time.Millisecond)
	})
}

// dnsServer serves A and SRV records for test names on loopback.
func dnsServer(t *testing.T, records func() []dns.RR) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			for _, rr := range records() {
				if rr.Header().Name == q.Name && rr.Header().Rrtype == q.Qtype {
					m.Answer = append(m.Answer, rr)
				}
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func TestDNSDiscoveryFindsNewNodes(t *testing.T) {
	a := startNode(t, cluster.Config{Name: "a"})
	b := startNode(t, cluster.Config{Name: "b"})
	published := []*cluster.Node{a}
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	records := func() []dns.RR {
		<-mu
		defer func() { mu <- struct{}{} }()
		var rrs []dns.RR
		for i, n := range published {
			host, port, _ := net.SplitHostPort(n.Addr())
			p, _ := strconv.Atoi(port)
			target := "n" + strconv.Itoa(i) + ".svc.test."
			rrs = append(rrs,
				&dns.A{Hdr: dns.RR_Header{Name: target, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.ParseIP(host)},
				&dns.SRV{Hdr: dns.RR_Header{Name: "_gossip._udp.svc.test.", Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 1}, Target: target, Port: uint16(p)},
			)
		}
		return rrs
	}
	resolver := dnsServer(t, records)

	seeds, err := cluster.DNSSeeds{Name: "_gossip._udp.svc.test", Resolver: resolver}.Seeds(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{a.Addr()}, seeds)

	joiner := startNode(t, cluster.Config{Name: "c", Discovery: cluster.DNSSeeds{Name: "_gossip._udp.svc.test", Resolver: resolver}, DiscoveryInterval: 200 * time.Millisecond})
	_, err = joiner.JoinDiscovered(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(joiner.AliveMembers()) == 2 }, 5*time.Second, 10*time.Millisecond)

	// b appears in DNS later: the periodic re-resolve joins it.
	<-mu
	published = append(published, b)
	mu <- struct{}{}
	require.Eventually(t, func() bool { return len(joiner.AliveMembers()) == 3 }, 10*time.Second, 20*time.Millisecond)

	_, err = cluster.DNSSeeds{Name: "missing.svc.test", Resolver: resolver}.Seeds(context.Background())
	assert.Error(t, err)
}
