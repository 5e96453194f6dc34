package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePID(t *testing.T) {
	tests := []struct {
		in      string
		want    PID
		wantErr bool
	}{
		{"node-1/42", PID{Node: "node-1", ID: 42}, false},
		{"10.0.0.1:7946/1", PID{Node: "10.0.0.1:7946", ID: 1}, false},
		{"a/b/3", PID{}, true}, // node names have no slash
		{"node-1/0", PID{}, true},
		{"node-1/-1", PID{}, true},
		{"node-1/007", PID{}, true}, // one spelling per PID
		{"node-1/", PID{}, true},
		{"/5", PID{}, true},
		{"nonode", PID{}, true},
		{"has space/1", PID{}, true},
		{strings.Repeat("x", MaxNodeNameLen+1) + "/1", PID{}, true},
	}
	for _, tt := range tests {
		got, err := ParsePID(tt.in)
		if tt.wantErr {
			assert.ErrorIs(t, err, ErrBadPID, "ParsePID(%q)", tt.in)
			continue
		}
		require.NoError(t, err, "ParsePID(%q)", tt.in)
		assert.Equal(t, tt.want, got, "ParsePID(%q)", tt.in)
		assert.Equal(t, tt.in, got.String())
	}
}

func TestPIDText(t *testing.T) {
	var p PID
	require.NoError(t, p.UnmarshalText([]byte("n/7")))
	assert.Equal(t, PID{Node: "n", ID: 7}, p)
	b, err := PID{}.MarshalText()
	require.NoError(t, err)
	assert.Empty(t, b, "the zero PID marshals empty")
	require.NoError(t, p.UnmarshalText(nil))
	assert.True(t, p.IsZero())
}

func TestSendCodecRoundTrip(t *testing.T) {
	tests := []struct {
		to  PID
		msg Message
	}{
		{PID{Node: "a", ID: 1}, Message{}},
		{PID{Node: "a", ID: 1}, Message{From: PID{Node: "b", ID: 9}, Kind: "k", Body: []byte("body"), Ref: 77, ReplyTo: "b"}},
		{PID{Node: "node-x", ID: 1 << 60}, Message{Kind: strings.Repeat("k", 300), Body: bytes.Repeat([]byte{0}, 70000)}},
	}
	for _, tt := range tests {
		to, m, err := decodeSend(encodeSend(tt.to, tt.msg))
		require.NoError(t, err)
		assert.Equal(t, tt.to, to)
		assert.Equal(t, tt.msg, m)
	}
}

func TestDecodeSendRejectsGarbage(t *testing.T) {
	good := encodeSend(PID{Node: "a", ID: 1}, Message{Kind: "k", Body: []byte("xyz")})
	tests := map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-2],
		"trailing":  append(append([]byte{}, good...), 1),
		"zero pid":  encodeSend(PID{}, Message{}),
		"huge len":  binary.AppendUvarint(nil, 1<<40),
		"bad node":  encodeSend(PID{Node: "a b", ID: 1}, Message{}),
	}
	for name, b := range tests {
		_, _, err := decodeSend(b)
		assert.ErrorIs(t, err, ErrBadFrame, name)
	}
}

func TestFrameRoundTripAndLimits(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	in := frame{typ: frameRequest, id: 5, timeout: 250, method: "proc.info", payload: []byte(`{"x":1}`)}
	require.NoError(t, writeFrame(w, in))
	require.NoError(t, w.Flush())
	out, err := readFrame(bufio.NewReader(&buf))
	require.NoError(t, err)
	assert.Equal(t, in, out)

	assert.Error(t, writeFrame(w, frame{typ: frameRequest, method: strings.Repeat("m", 256)}))
	assert.Error(t, writeFrame(w, frame{typ: frameRequest, payload: make([]byte, maxFrameSize)}))

	oversize := binary.BigEndian.AppendUint32(nil, maxFrameSize+1)
	_, err = readFrame(bufio.NewReader(bytes.NewReader(oversize)))
	assert.ErrorIs(t, err, ErrBadFrame)
	badType := binary.BigEndian.AppendUint32(nil, frameHeaderSize)
	badType = append(badType, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	_, err = readFrame(bufio.NewReader(bytes.NewReader(badType)))
	assert.ErrorIs(t, err, ErrBadFrame)
}

func TestMetaLimit(t *testing.T) {
	small := NodeMeta{Role: RoleWorker, Tags: map[string]string{"zone": "a"}, RPC: "127.0.0.1:1234"}
	b, err := encodeMeta(small)
	require.NoError(t, err)
	got, err := decodeMeta(b)
	require.NoError(t, err)
	assert.Equal(t, small, got)

	big := NodeMeta{Tags: map[string]string{"k": strings.Repeat("v", memberlist.MetaMaxSize)}}
	_, err = encodeMeta(big)
	assert.ErrorIs(t, err, ErrMetaTooLarge)

	cfg := Config{Name: "n", Tags: big.Tags}
	assert.ErrorIs(t, cfg.Validate(), ErrMetaTooLarge, "an oversized tag set is refused before memberlist can panic")

	_, err = decodeMeta([]byte("{not json"))
	assert.ErrorIs(t, err, ErrBadFrame)
	_, err = decodeMeta(make([]byte, memberlist.MetaMaxSize+1))
	assert.ErrorIs(t, err, ErrBadFrame)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"minimal", Config{Name: "n1"}, ""},
		{"no name", Config{}, "Name"},
		{"bad role", Config{Name: "n", Role: "boss"}, "Role"},
		{"bad profile", Config{Name: "n", Profile: "wan"}, "Profile"},
		{"bad key", Config{Name: "n", SecretKey: []byte("short")}, "SecretKey"},
		{"negative", Config{Name: "n", RPCTimeout: -1}, "RPCTimeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.wantErr == "" {
			assert.NoError(t, err, tt.name)
			continue
		}
		assert.ErrorContains(t, err, tt.wantErr, tt.name)
	}
}

func TestProfilesStartFromLAN(t *testing.T) {
	lan := ProfileLAN.MemberlistConfig()
	local := ProfileLocal.MemberlistConfig()
	sim := ProfileSim.MemberlistConfig()
	assert.Equal(t, memberlist.DefaultLANConfig().ProbeInterval, lan.ProbeInterval)
	assert.Less(t, local.ProbeInterval, lan.ProbeInterval)
	assert.False(t, sim.EnableCompression)
	assert.Equal(t, lan.UDPBufferSize, local.UDPBufferSize, "fields a profile does not override keep the base value")
}

func FuzzDecodeSend(f *testing.F) {
	f.Add(encodeSend(PID{Node: "a", ID: 1}, Message{Kind: "k", Body: []byte("b"), Ref: 3, ReplyTo: "a"}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		to, m, err := decodeSend(b)
		if err != nil {
			return
		}
		// What decodes must re-encode to the same bytes.
		assert.Equal(t, b, encodeSend(to, m))
	})
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	_ = writeFrame(w, frame{typ: frameOneway, method: "proc.send", payload: []byte("x")})
	_ = w.Flush()
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 14, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := readFrame(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		assert.LessOrEqual(t, len(fr.method), 255)
		assert.GreaterOrEqual(t, fr.typ, frameHello)
	})
}

func FuzzDecodeMeta(f *testing.F) {
	b, _ := encodeMeta(NodeMeta{Role: "worker", Tags: map[string]string{"a": "b"}})
	f.Add(b)
	f.Add([]byte(`{"t":{"a":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeMeta(b)
	})
}

func FuzzParsePID(f *testing.F) {
	f.Add("node-1/42")
	f.Add("/")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePID(s)
		if err != nil {
			return
		}
		assert.Equal(t, s, p.String())
	})
}

func TestPageCodecRoundTrip(t *testing.T) {
	page := ProcessPage{Total: 7, Processes: []ProcessInfo{
		{PID: PID{Node: "a", ID: 1}, Node: "a"},
		{PID: PID{Node: "b", ID: 9}, Node: "b", Name: "x", Registered: []string{"svc", "main"}, Behavior: "echo", Status: StatusRunnable,
			Mailbox: 3, MailboxHighWater: 40, MessagesIn: 1 << 40, MessagesOut: 2, StartedAt: time.Unix(0, 1234567890123),
			Links: []PID{{Node: "a", ID: 1}}, Monitors: []PID{{Node: "c", ID: 2}}, Monitoring: []PID{{Node: "d", ID: 3}},
			TrapExits: true, Labels: map[string]string{"sandbox": "s1"}},
	}}
	got, err := decodePage(encodePage(page))
	require.NoError(t, err)
	require.Len(t, got.Processes, 2)
	assert.Equal(t, page.Total, got.Total)
	assert.Equal(t, page.Processes[1].StartedAt.UnixNano(), got.Processes[1].StartedAt.UnixNano())
	got.Processes[1].StartedAt = page.Processes[1].StartedAt
	got.Processes[0].StartedAt = page.Processes[0].StartedAt
	assert.Equal(t, page.Processes, got.Processes)

	_, err = decodePage(nil)
	assert.ErrorIs(t, err, ErrBadFrame)
	enc := encodePage(page)
	_, err = decodePage(enc[:len(enc)-1])
	assert.ErrorIs(t, err, ErrBadFrame)
}

func FuzzDecodePage(f *testing.F) {
	f.Add(encodePage(ProcessPage{Total: 1, Processes: []ProcessInfo{{PID: PID{Node: "a", ID: 1}, Labels: map[string]string{"k": "v"}}}}))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		page, err := decodePage(b)
		if err != nil {
			return
		}
		_, err = decodePage(encodePage(page))
		assert.NoError(t, err, "what decodes re-encodes")
	})
}
