package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// `clusterlab agent`: one real worker node on the real network, with the
// health RPC and gopsutil resources, optional demo workloads or supervised
// children, and the same HTTP API as `clusterlab serve` on 127.0.0.1, so
// that every side of a partition can be inspected on its own.

// AgentLockFileName is the file in the agent's data dir that holds the
// address and token of its HTTP API, in the same format as serve.lock.
const AgentLockFileName = "agent.lock"

// Workloads an agent can start (--workload).
const (
	// AgentWorkloadNone starts nothing: the node only hosts what
	// operations spawn on it.
	AgentWorkloadNone = "none"
	// AgentWorkloadDemo starts the demo behaviours of simulator/workload:
	// an echo registered cluster-wide as echo-<node>, a counter, a ticker,
	// a light cpu-burner and a pinger that pings another agent's echo.
	AgentWorkloadDemo = "demo"
	// AgentWorkloadSupervisors starts (or joins) the cluster-wide
	// supervisor AgentSupervisor and adds AgentChildren permanent children
	// with ids <node>-1..<node>-N, placed by rendezvous hash over the live
	// workers: when an agent dies, the children it ran restart elsewhere.
	AgentWorkloadSupervisors = "supervisors"
)

// AgentWorkloads lists the values of --workload.
var AgentWorkloads = []string{AgentWorkloadNone, AgentWorkloadDemo, AgentWorkloadSupervisors}

// The supervisor and children of AgentWorkloadSupervisors.
const (
	// AgentSupervisor is the supervisor's name.
	AgentSupervisor = "agents"
	// AgentChildren is how many children each agent adds.
	AgentChildren = 3
)

// agentSupervisorSpec is the one spec every agent starts, so that starting
// it again from another agent is not a conflict.
var agentSupervisorSpec = cluster.SupervisorSpec{Name: AgentSupervisor, MaxRestarts: 10, Period: 10 * time.Second}

// Defaults of an agent.
const (
	// DefaultAgentBind is the default gossip address.
	DefaultAgentBind = "127.0.0.1:7946"
	// DefaultAgentJoinTimeout bounds joining the seeds.
	DefaultAgentJoinTimeout = 10 * time.Second
	// EnvGossipKey is the environment variable an agent reads its gossip
	// key (base64) from when neither --key nor --key-file is given; it
	// keeps the key out of the process list.
	EnvGossipKey = "CLUSTERLAB_GOSSIP_KEY"
	// maxKeyFileBytes bounds what --key-file reads.
	maxKeyFileBytes = 4096
	// defaultDNSPort is the gossip port used with A/AAAA records when
	// neither --join-dns nor --bind names one.
	defaultDNSPort = 7946
)

// ErrAgentConfig reports an invalid agent configuration; the message names
// the flag.
var ErrAgentConfig = errors.New("app: agent config")

// AgentConfig describes a `clusterlab agent` run. Zero fields take the
// defaults; Validate names the first wrong field by its flag.
type AgentConfig struct {
	// Name is the node's cluster-unique name (--name; required).
	Name string
	// Bind is the gossip host:port (--bind; default DefaultAgentBind; port
	// 0 picks a free port).
	Bind string
	// Advertise, when set, is the gossip address the others use (--advertise).
	Advertise string
	// Join lists seed gossip addresses (--join); none: start alone (the
	// first node of a cluster).
	Join []string
	// JoinDNS is a DNS name resolved for seeds, NAME or NAME:PORT
	// (--join-dns): SRV records first, then A/AAAA with PORT (default the
	// --bind port, else 7946). It is re-resolved periodically, so a
	// headless Kubernetes service works as a seed.
	JoinDNS string
	// Tags are the node's tags (--tags k=v,...).
	Tags map[string]string
	// Workload is one of AgentWorkloads (--workload; default none).
	Workload string
	// Profile is the membership profile (--profile lan|local; default lan).
	Profile cluster.Profile
	// SecretKey encrypts gossip (--key, --key-file or $CLUSTERLAB_GOSSIP_KEY).
	SecretKey []byte
	// Label keeps clusters sharing a network apart (--label).
	Label string
	// Insecure allows a non-loopback bind without a key (--insecure).
	Insecure bool
	// APIAddr is where the HTTP API listens (--api; default 127.0.0.1:0).
	APIAddr string
	// DataDir holds agent.lock (--data-dir; default the user config
	// dir/clusterlab/agent-<name>).
	DataDir string
	// JoinTimeout bounds the join (--join-timeout; default
	// DefaultAgentJoinTimeout): a wrong key or label, unreachable seeds or a
	// name clash fail within it with an error that says which.
	JoinTimeout time.Duration
	// HealthMonitor runs the health monitor on the agent too
	// (--health-monitor), so that each side of a partition can report its
	// own health; off by default (the app's observer monitors the cluster).
	HealthMonitor bool
	// Version is gossiped with the node and reported by the API.
	Version string
	// Registry is the operations registry; default operations.Default().
	Registry *operations.Registry
	// Out receives the startup banner; default os.Stdout.
	Out io.Writer
	// Logger receives logs; default discards them.
	Logger *slog.Logger
	// Ready, when set, is called once the agent has joined and its API
	// serves.
	Ready func(AgentInfo)
}

// AgentInfo describes a running agent.
type AgentInfo struct {
	// Name is the node's name.
	Name string `json:"name"`
	// Gossip is the node's advertised gossip address (the one to give
	// other agents as a seed).
	Gossip string `json:"gossip"`
	// Lock is the API's address, token and the agent's pid, as written to
	// LockPath.
	Lock LockInfo `json:"lock"`
	// LockPath is <data-dir>/agent.lock.
	LockPath string `json:"lock_path"`
	// Members is how many members the node saw alive after joining.
	Members int `json:"members"`
}

// withDefaults fills the optional fields.
func (c AgentConfig) withDefaults() (AgentConfig, error) {
	if c.Bind == "" {
		c.Bind = DefaultAgentBind
	}
	if c.Workload == "" {
		c.Workload = AgentWorkloadNone
	}
	if c.Profile == "" {
		c.Profile = cluster.ProfileLAN
	}
	if c.APIAddr == "" {
		c.APIAddr = "127.0.0.1:0"
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = DefaultAgentJoinTimeout
	}
	if c.Registry == nil {
		c.Registry = operations.Default()
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.DataDir == "" && c.Name != "" {
		d, err := DefaultDataDir()
		if err != nil {
			return c, err
		}
		c.DataDir = filepath.Join(d, "agent-"+c.Name)
	}
	return c, nil
}

// Validate reports the first invalid field, by its flag.
func (c AgentConfig) Validate() error {
	if err := cluster.ValidateNodeName(c.Name); err != nil {
		return fmt.Errorf("%w: --name: %v", ErrAgentConfig, err)
	}
	if !slices.Contains(AgentWorkloads, c.Workload) && c.Workload != "" {
		return fmt.Errorf("%w: --workload %q: want %s", ErrAgentConfig, c.Workload, strings.Join(AgentWorkloads, ", "))
	}
	switch c.Profile {
	case "", cluster.ProfileLAN, cluster.ProfileLocal:
	default:
		return fmt.Errorf("%w: --profile %q: want lan or local", ErrAgentConfig, c.Profile)
	}
	if len(c.Join) > 0 && c.JoinDNS != "" {
		return fmt.Errorf("%w: --join and --join-dns: give one of them", ErrAgentConfig)
	}
	for _, s := range c.Join {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("%w: --join %q: want host:port", ErrAgentConfig, s)
		}
	}
	if c.JoinDNS != "" {
		if _, _, err := splitDNSName(c.JoinDNS, 0); err != nil {
			return err
		}
	}
	if c.APIAddr != "" {
		if _, _, err := net.SplitHostPort(c.APIAddr); err != nil {
			return fmt.Errorf("%w: --api %q: want host:port", ErrAgentConfig, c.APIAddr)
		}
	}
	if c.JoinTimeout < 0 {
		return fmt.Errorf("%w: --join-timeout must not be negative", ErrAgentConfig)
	}
	if err := cluster.CheckBind(c.Bind, c.SecretKey, c.Insecure); err != nil {
		return err
	}
	return nil
}

// splitDNSName splits NAME[:PORT]; the port defaults to def when it is a
// valid port, else 7946.
func splitDNSName(s string, def int) (string, int, error) {
	name, port := s, def
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		p, err := strconv.Atoi(s[i+1:])
		if err != nil || p <= 0 || p > 65535 {
			return "", 0, fmt.Errorf("%w: --join-dns %q: bad port (want NAME or NAME:PORT)", ErrAgentConfig, s)
		}
		name, port = s[:i], p
	}
	if name == "" || len(name) > 253 || strings.ContainsAny(name, " /\t") {
		return "", 0, fmt.Errorf("%w: --join-dns %q: not a DNS name", ErrAgentConfig, s)
	}
	if port <= 0 || port > 65535 {
		port = defaultDNSPort
	}
	return name, port, nil
}

// RunAgent runs an agent until ctx ends: it starts the node, joins the
// cluster (failing within the join timeout with an error that says why),
// starts the workload, serves the HTTP API with a fresh token written to
// <data-dir>/agent.lock (mode 0600), and on the end leaves the cluster
// gracefully and removes the lock file.
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger.With("agent", cfg.Name)
	if info, err := ReadAgentLock(cfg.DataDir); err == nil && info.PID != os.Getpid() && processAlive(info.PID) {
		return fmt.Errorf("app: another clusterlab agent (pid %d) is running with data dir %s; stop it or pass another --data-dir", info.PID, cfg.DataDir)
	}
	if host, _, _ := net.SplitHostPort(cfg.APIAddr); host != "localhost" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			log.Warn("the agent API listens beyond the loopback interface; anyone who can reach it and has the token controls the cluster", "addr", cfg.APIAddr)
		}
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("app: agent API: listen on %s: %w", cfg.APIAddr, err)
	}
	defer ln.Close() // no-op once the server owns it

	n, err := newAgentNode(cfg, ln.Addr().String(), log)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("app: agent %s: %w", cfg.Name, err)
	}
	joined, err := joinAgent(ctx, n, cfg)
	if err != nil {
		// Halt, not Stop: a leave message under a clashing name would make
		// the others believe the other node of that name left.
		n.Halt()
		return fmt.Errorf("app: agent %s: %w", cfg.Name, err)
	}
	b, err := NewBackend(ctx, BackendConfig{Node: n, Registry: cfg.Registry, Logger: cfg.Logger,
		Health: HealthConfig{OnNode: cfg.HealthMonitor}})
	if err != nil {
		n.Halt()
		return fmt.Errorf("app: agent %s: %w", cfg.Name, err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Close(closeCtx); err != nil {
			log.Warn("leaving the cluster", "err", err)
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout+10*time.Second)
	err = startAgentWorkload(wctx, n, cfg.Workload)
	cancel()
	if err != nil {
		return fmt.Errorf("app: agent %s: workload %s: %w", cfg.Name, cfg.Workload, err)
	}

	info := LockInfo{Addr: ln.Addr().String(), Token: NewToken(), PID: os.Getpid()}
	api := NewAPI(b, APIConfig{Token: info.Token, Version: cfg.Version, Logger: cfg.Logger})
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	lockPath, err := WriteAgentLock(cfg.DataDir, info)
	if err != nil {
		return err
	}
	defer func() { _ = RemoveAgentLock(cfg.DataDir, info.PID) }()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	alive := len(n.AliveMembers())
	fmt.Fprintf(cfg.Out, "clusterlab agent: node %s (worker, profile %s, workload %s), %d members alive, joined %d seeds\n",
		cfg.Name, cfg.Profile, cfg.Workload, alive, joined)
	fmt.Fprintf(cfg.Out, "gossip:    %s\n", n.Addr())
	fmt.Fprintf(cfg.Out, "api:       http://%s/ (token in the lock file)\n", info.Addr)
	fmt.Fprintf(cfg.Out, "lock file: %s (`clusterlab op --data-dir %s` finds the agent through it)\n", lockPath, cfg.DataDir)
	if cfg.Ready != nil {
		cfg.Ready(AgentInfo{Name: cfg.Name, Gossip: n.Addr(), Lock: info, LockPath: lockPath, Members: alive})
	}

	select {
	case err := <-errc:
		return fmt.Errorf("app: agent %s: serve: %w", cfg.Name, err)
	case <-ctx.Done():
	}
	fmt.Fprintf(cfg.Out, "clusterlab agent: %s leaving the cluster\n", cfg.Name)
	b.Hub.Close() // ends the event streams so Shutdown does not wait for them
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShut()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("app: agent %s: serve: %w", cfg.Name, err)
	}
	return nil
}

// newAgentNode builds the agent's node: a worker on the real network with
// the demo behaviours registered, the health RPC and gopsutil resources.
func newAgentNode(cfg AgentConfig, apiAddr string, log *slog.Logger) (*cluster.Node, error) {
	ncfg := cluster.Config{
		Name: cfg.Name, Role: cluster.RoleWorker, Tags: cfg.Tags, Version: cfg.Version, APIAddr: apiAddr,
		Profile: cfg.Profile, Network: cluster.NetNetwork{}, Bind: cfg.Bind, Advertise: cfg.Advertise,
		Label: cfg.Label, SecretKey: cfg.SecretKey, Logger: cfg.Logger,
	}
	if cfg.JoinDNS != "" {
		name, port, err := splitDNSName(cfg.JoinDNS, bindPort(cfg.Bind))
		if err != nil {
			return nil, err
		}
		ncfg.Discovery = cluster.DNSSeeds{Name: name, Port: port}
	}
	if src, err := cluster.NewGopsutilSource(); err != nil {
		log.Warn("no resource data for health monitoring", "err", err)
	} else {
		ncfg.Resources = src
	}
	n, err := cluster.NewNode(ncfg)
	if err != nil {
		return nil, fmt.Errorf("app: agent: %w", err)
	}
	if err := workload.Register(n); err != nil {
		return nil, fmt.Errorf("app: agent: %w", err)
	}
	cluster.EnableHealthRPC(n)
	return n, nil
}

func bindPort(bind string) int {
	_, p, err := net.SplitHostPort(bind)
	if err != nil {
		return 0
	}
	port, _ := strconv.Atoi(p)
	return port
}

// joinAgent joins the seeds (or the DNS-discovered ones) within the join
// timeout and returns how many answered. Without seeds the node starts
// alone; a DNS name that resolves to this node only also starts alone (the
// first pod of a headless service) and keeps re-resolving.
func joinAgent(ctx context.Context, n *cluster.Node, cfg AgentConfig) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	defer cancel()
	seeds := cfg.Join
	if d := n.Config().Discovery; d != nil {
		found, err := d.Seeds(ctx)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", cluster.ErrNoSeed, err)
		}
		if len(found) == 0 {
			return 0, fmt.Errorf("%w: %s found no seeds", cluster.ErrNoSeed, d)
		}
		self := n.Addr()
		seeds = slices.DeleteFunc(found, func(s string) bool { return s == self })
		if len(seeds) == 0 {
			return 0, nil
		}
	}
	if len(seeds) == 0 {
		return 0, nil
	}
	return n.Join(ctx, seeds)
}

// startAgentWorkload starts the --workload processes on n.
func startAgentWorkload(ctx context.Context, n *cluster.Node, which string) error {
	switch which {
	case AgentWorkloadDemo:
		return startAgentDemo(ctx, n)
	case AgentWorkloadSupervisors:
		return startAgentSupervisors(ctx, n)
	}
	return nil
}

func startAgentDemo(ctx context.Context, n *cluster.Node) error {
	labels := map[string]string{"demo": "true"}
	spawn := func(behavior, name string, args any) (cluster.PID, error) {
		var raw []byte
		if args != nil {
			raw, _ = json.Marshal(args)
		}
		pid, err := n.Spawn(ctx, n.Name(), behavior, cluster.SpawnOptions{Name: name, Args: raw, Labels: labels})
		if err != nil {
			return pid, fmt.Errorf("spawn %s: %w", behavior, err)
		}
		return pid, nil
	}
	echo, err := spawn(workload.Echo, "echo", nil)
	if err != nil {
		return err
	}
	if err := n.Register(ctx, "echo-"+n.Name(), echo); err != nil {
		return fmt.Errorf("register echo-%s: %w", n.Name(), err)
	}
	if _, err := spawn(workload.Counter, "counter", nil); err != nil {
		return err
	}
	if _, err := spawn(workload.Ticker, "", map[string]string{"interval": "1s"}); err != nil {
		return err
	}
	if _, err := spawn(workload.CPUBurner, "", map[string]string{"interval": "200ms", "burn": "2ms"}); err != nil {
		return err
	}
	target := echo
	if next := nextWorker(n); next != "" {
		if pid, ok := n.Whereis("echo-" + next); ok {
			target = pid
		}
	}
	_, err = spawn(workload.Pinger, "pinger", map[string]string{"target": target.String(), "interval": "1s", "timeout": "300ms"})
	return err
}

// nextWorker is the live worker after n in name order (wrapping), or "".
func nextWorker(n *cluster.Node) string {
	var names []string
	for _, m := range n.Members() {
		if m.Role == cluster.RoleWorker && m.State == cluster.StateAlive && m.Name != n.Name() {
			names = append(names, m.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	for _, name := range names {
		if name > n.Name() {
			return name
		}
	}
	return names[0]
}

// agentChildBehaviors are the behaviours of an agent's children, in turn.
var agentChildBehaviors = []string{workload.Counter, workload.Echo, workload.Ticker}

// AgentChildIDs returns the ids of the children an agent named node adds
// with AgentWorkloadSupervisors.
func AgentChildIDs(node string) []string {
	ids := make([]string, AgentChildren)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", node, i+1)
	}
	return ids
}

func startAgentSupervisors(ctx context.Context, n *cluster.Node) error {
	if err := n.StartSupervisor(ctx, agentSupervisorSpec); err != nil {
		return fmt.Errorf("start supervisor %s: %w", AgentSupervisor, err)
	}
	for i, id := range AgentChildIDs(n.Name()) {
		b := agentChildBehaviors[i%len(agentChildBehaviors)]
		var args []byte
		if b == workload.Ticker {
			args = []byte(`{"interval":"1s"}`)
		}
		_, err := n.StartChild(ctx, AgentSupervisor, cluster.ChildSpec{ID: id, Behavior: b, Args: args, Restart: cluster.RestartPermanent})
		// A restarted agent finds its children still running elsewhere.
		if err != nil && !errors.Is(err, cluster.ErrConflict) {
			return fmt.Errorf("start child %s: %w", id, err)
		}
	}
	return nil
}

// WriteAgentLock writes info to dir/agent.lock with mode 0600, like
// WriteLock does for serve.lock.
func WriteAgentLock(dir string, info LockInfo) (string, error) {
	return writeLockFile(dir, AgentLockFileName, info)
}

// ReadAgentLock reads dir/agent.lock; a missing file is ErrNoServer.
func ReadAgentLock(dir string) (LockInfo, error) {
	return readLockFile(dir, AgentLockFileName)
}

// RemoveAgentLock deletes dir/agent.lock if it still belongs to pid.
func RemoveAgentLock(dir string, pid int) error {
	info, err := ReadAgentLock(dir)
	if err != nil || info.PID != pid {
		return nil
	}
	if err := os.Remove(filepath.Join(dir, AgentLockFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("app: remove agent lock file: %w", err)
	}
	return nil
}

// readKey returns the gossip key from --key, --key-file or the
// environment, in that order; at most one of the flags may be given.
func readKey(key, keyFile string) ([]byte, error) {
	if key != "" && keyFile != "" {
		return nil, fmt.Errorf("%w: --key and --key-file: give one of them", ErrAgentConfig)
	}
	if keyFile != "" {
		f, err := os.Open(keyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --key-file: %v", ErrAgentConfig, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%w: --key-file %s: %v", ErrAgentConfig, keyFile, err)
		}
		if len(b) > maxKeyFileBytes {
			return nil, fmt.Errorf("%w: --key-file %s: over %d bytes; want one base64 key", ErrAgentConfig, keyFile, maxKeyFileBytes)
		}
		key = string(b)
		if strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("%w: --key-file %s is empty", ErrAgentConfig, keyFile)
		}
	}
	if key == "" {
		key = os.Getenv(EnvGossipKey)
	}
	k, err := cluster.ParseKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: gossip key: %v", ErrAgentConfig, err)
	}
	return k, nil
}

// NewAgentCommand returns `clusterlab agent`.
func NewAgentCommand(cfg CLIConfig) *cobra.Command {
	var (
		ac               AgentConfig
		profile, key, kf string
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run one real cluster node (a worker) and serve its HTTP API on 127.0.0.1",
		Long: "agent runs one worker node of a real cluster on the network: it joins the seeds (--join, or --join-dns\n" +
			"re-resolved periodically), reports its machine's resources to the health monitor, optionally runs demo\n" +
			"workloads or supervised children, and serves the same HTTP API as `clusterlab serve` on 127.0.0.1 behind\n" +
			"a random bearer token written to <data-dir>/agent.lock (mode 0600). A wrong key or label, unreachable\n" +
			"seeds or a name clash fail within --join-timeout with an error that says which. Gossip beyond loopback\n" +
			"needs a key (--key, --key-file or $" + EnvGossipKey + "; `clusterlab key` makes one) unless --insecure.\n" +
			"SIGINT/SIGTERM leave the cluster gracefully.",
		Example: "  clusterlab agent --name a1 --bind 127.0.0.2:7946 --profile local --workload demo\n" +
			"  clusterlab agent --name a2 --bind 127.0.0.3:7946 --profile local --join 127.0.0.2:7946\n" +
			"  clusterlab op --data-dir ~/.config/clusterlab/agent-a1 run list_nodes",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := cfg.logger()
			if err != nil {
				return err
			}
			k, err := readKey(key, kf)
			if err != nil {
				return err
			}
			ac.SecretKey, ac.Profile, ac.Version, ac.Logger, ac.Out = k, cluster.Profile(profile), cfg.Version, log, cmd.OutOrStdout()
			return RunAgent(cmd.Context(), ac)
		},
	}
	f := cmd.Flags()
	host, _ := os.Hostname()
	f.StringVar(&ac.Name, "name", host, "the node's cluster-unique name")
	f.StringVar(&ac.Bind, "bind", DefaultAgentBind, "gossip address host:port (port 0: a free port)")
	f.StringVar(&ac.Advertise, "advertise", "", "gossip address host:port the other nodes use (NAT, or a 0.0.0.0 bind)")
	f.StringSliceVar(&ac.Join, "join", nil, "seed gossip addresses host:port (none: start a new cluster)")
	f.StringVar(&ac.JoinDNS, "join-dns", "", "DNS name (NAME or NAME:PORT) resolved for seeds: SRV, else A/AAAA; re-resolved periodically")
	f.StringToStringVar(&ac.Tags, "tags", nil, "node tags k=v,... (placement uses them)")
	f.StringVar(&ac.Workload, "workload", AgentWorkloadNone, "what to start: "+strings.Join(AgentWorkloads, ", "))
	f.StringVar(&profile, "profile", string(cluster.ProfileLAN), "membership profile: lan or local (fast failure detection on one machine)")
	f.StringVar(&key, "key", "", "gossip encryption key, base64 of 16, 24 or 32 bytes (default $"+EnvGossipKey+")")
	f.StringVar(&kf, "key-file", "", "file holding the gossip key (base64)")
	f.StringVar(&ac.Label, "label", "", "cluster label: nodes with another label are kept apart")
	f.BoolVar(&ac.Insecure, "insecure", false, "allow gossip in clear text beyond loopback")
	f.StringVar(&ac.APIAddr, "api", "127.0.0.1:0", "address of the HTTP API (port 0: a free port)")
	f.StringVar(&ac.DataDir, "data-dir", "", "directory of agent.lock (default: the user config dir/clusterlab/agent-<name>)")
	f.BoolVar(&ac.HealthMonitor, "health-monitor", false, "also run the health monitor here (each side of a partition then reports its health; costs a request per member per second)")
	f.DurationVar(&ac.JoinTimeout, "join-timeout", DefaultAgentJoinTimeout, "give up joining after this long")
	return cmd
}
