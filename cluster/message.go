package cluster

// Message is what processes exchange. It is the same value whether it goes
// to a process on this node or across the network: the body is opaque bytes,
// so a behaviour sees identical messages from local and remote senders.
type Message struct {
	// From is the sending process; zero when sent from outside any process.
	From PID `json:"from"`
	// Kind names the message for the receiving behaviour ("ping", "inc").
	Kind string `json:"kind"`
	// Body is the payload, opaque to the runtime.
	Body []byte `json:"body,omitempty"`
	// Ref is non-zero on a request made with Call; pass the message to
	// Process.Reply (or Node.Reply) to answer it.
	Ref uint64 `json:"ref,omitempty"`
	// ReplyTo is the node that waits for the reply of a Call.
	ReplyTo string `json:"reply_to,omitempty"`
}

// Reason is why a process exited.
type Reason string

// Exit reasons with a meaning to the runtime. Any other string is an
// abnormal exit (a behaviour's error text, for example).
const (
	// ReasonNormal is a process finishing on its own; links ignore it.
	ReasonNormal Reason = "normal"
	// ReasonKilled is an untrappable kill.
	ReasonKilled Reason = "killed"
	// ReasonShutdown is an orderly stop by the node or a supervisor.
	ReasonShutdown Reason = "shutdown"
	// ReasonNoConnection is given to links and monitors of a process whose
	// node stopped answering.
	ReasonNoConnection Reason = "noconnection"
	// ReasonNoProc is given when linking to or monitoring a process that does
	// not exist.
	ReasonNoProc Reason = "noproc"
	// ReasonNameConflict is given to the loser of a registry name conflict.
	ReasonNameConflict Reason = "name_conflict"
)

// Message kinds the runtime itself delivers.
const (
	// KindDown is delivered to a monitoring process when the monitored one
	// exits. From is the exited process, Ref the monitor reference and Body
	// the exit reason.
	KindDown = "DOWN"
	// KindExit is delivered to a process that traps exits when a linked
	// process exits. From is the exited process and Body the reason.
	KindExit = "EXIT"
)
