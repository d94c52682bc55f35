package push

import "testing"

// TestFramesGolden pins every frame a stream can carry, in every format, to
// the bytes of SPEC §3.
func TestFramesGolden(t *testing.T) {
	t.Parallel()
	b := []byte("b0undary")
	m := &Message{TimeMs: 1700000000000, ID: []byte("42"), To: []byte("topic:news"), Event: []byte("chat"), ContentType: []byte("application/json"), JSON: true, Data: []byte(`{"a":1}`)}
	text := &Message{TimeMs: 1700000000000, ID: []byte("43"), To: []byte("user:7"), Data: []byte("hi \"you\"\nthere")}
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"message ndjson", AppendMessageFrame(nil, NDJSON, m, b), `{"protocol":2,"time":1700000000000,"id":"42","to":"topic:news","event":"chat","data":{"a":1}}` + "\n"},
		{"message poll", AppendMessageFrame(nil, Poll, text, b), `{"protocol":2,"time":1700000000000,"id":"43","to":"user:7","data":"hi \"you\"\nthere"}`},
		{"message sse", AppendMessageFrame(nil, SSE, m, b), "id: 42\nevent: chat\ndata: {\"a\":1}\n\n"},
		{"message sse no event", AppendMessageFrame(nil, SSE, text, b), "id: 43\nevent: message\ndata: hi \"you\"\ndata: there\n\n"},
		{"message multipart", AppendMessageFrame(nil, Multipart, m, b), "--b0undary\r\nContent-Type: application/json\r\nPush-Id: 42\r\nPush-Event: chat\r\n\r\n{\"a\":1}\r\n"},
		{"message multipart text", AppendMessageFrame(nil, Multipart, text, b), "--b0undary\r\nContent-Type: text/plain\r\nPush-Id: 43\r\n\r\nhi \"you\"\nthere\r\n"},
		{"resend ndjson", AppendResendFrame(nil, NDJSON, m, b), `{"protocol":2,"time":1700000000000,"id":"42","to":"topic:news","event":"chat","data":{"a":1},"resend":true}` + "\n"},
		{"resend poll", AppendResendFrame(nil, Poll, text, b), `{"protocol":2,"time":1700000000000,"id":"43","to":"user:7","data":"hi \"you\"\nthere","resend":true}`},
		{"resend sse", AppendResendFrame(nil, SSE, m, b), ": resend\nid: 42\nevent: chat\ndata: {\"a\":1}\n\n"},
		{"resend multipart", AppendResendFrame(nil, Multipart, m, b), "--b0undary\r\nContent-Type: application/json\r\nPush-Id: 42\r\nPush-Event: chat\r\nPush-Resend: true\r\n\r\n{\"a\":1}\r\n"},
		{"registered ndjson", AppendRegisteredFrame(nil, NDJSON, 1700000000000, []byte("KEY.n1"), 3000, b), `{"protocol":1,"time":1700000000000,"state":"registered","conn":"KEY.n1"}` + "\n"},
		{"registered sse", AppendRegisteredFrame(nil, SSE, 1700000000000, []byte("KEY.n1"), 3000, b), "retry: 3000\n\nevent: registered\ndata: {\"protocol\":1,\"time\":1700000000000,\"state\":\"registered\",\"conn\":\"KEY.n1\"}\n\n"},
		{"registered multipart", AppendRegisteredFrame(nil, Multipart, 1700000000000, []byte("KEY.n1"), 3000, b), "--b0undary\r\nContent-Type: application/json\r\nPush-Id: 0\r\n\r\n{\"protocol\":1,\"time\":1700000000000,\"state\":\"registered\",\"conn\":\"KEY.n1\"}\r\n"},
		{"heartbeat ndjson", AppendHeartbeatFrame(nil, NDJSON, 1700000000000, b), `{"protocol":0,"time":1700000000000}` + "\n"},
		{"heartbeat sse", AppendHeartbeatFrame(nil, SSE, 1700000000000, b), ": hb 1700000000000\n\n"},
		{"heartbeat multipart", AppendHeartbeatFrame(nil, Multipart, 1700000000000, b), "--b0undary\r\nContent-Type: application/json\r\nPush-Id: 0\r\n\r\n{\"protocol\":0,\"time\":1700000000000}\r\n"},
		{"reconnect ndjson", AppendReconnectFrame(nil, NDJSON, 1700000000000, 2500, b), `{"protocol":3,"time":1700000000000,"cmd":"reconnect","retry":2500}` + "\n"},
		{"reconnect sse", AppendReconnectFrame(nil, SSE, 1700000000000, 2500, b), "retry: 2500\n\nevent: reconnect\ndata: {\"protocol\":3,\"time\":1700000000000,\"cmd\":\"reconnect\",\"retry\":2500}\n\n"},
	} {
		if string(c.got) != c.want {
			t.Errorf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
}

// TestFrameAllocs: no frame costs an allocation (no t.Parallel: AllocsPerRun
// counts the whole process).
func TestFrameAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	b, key := []byte("b0undary"), []byte("AAAAAAEAAAC3hDaz38oN10qHe_Gq7rfo.7783abe38dfc")
	m := &Message{TimeMs: 1700000000000, ID: []byte("42"), To: []byte("topic:news"), Data: []byte("x\ny")}
	for f := range NumFormats {
		for name, fn := range map[string]func(){
			"AppendMessageFrame":    func() { dst = AppendMessageFrame(dst[:0], f, m, b) },
			"AppendResendFrame":     func() { dst = AppendResendFrame(dst[:0], f, m, b) },
			"AppendRegisteredFrame": func() { dst = AppendRegisteredFrame(dst[:0], f, 1, key, 3000, b) },
			"AppendHeartbeatFrame":  func() { dst = AppendHeartbeatFrame(dst[:0], f, 1, b) },
			"AppendReconnectFrame":  func() { dst = AppendReconnectFrame(dst[:0], f, 1, 3000, b) },
		} {
			if allocs := testing.AllocsPerRun(100, fn); allocs != 0 {
				t.Errorf("%s(%v) allocs = %v; want 0", name, f, allocs)
			}
		}
	}
}
