package perf

import "testing"

func TestTargetShapes(t *testing.T) {
	t.Parallel()
	pw := Target{Kind: KindPushwire, Edge: "127.0.0.1:8080", API: "127.0.0.1:8081", Format: FormatNDJSON}
	nc := Target{Kind: KindNchan, Edge: "127.0.0.1:9000", API: "127.0.0.1:9000", Format: FormatSSE}
	for _, c := range []struct {
		name, got, want string
	}{
		{"pushwire sub user", string(pw.AppendSubscribe(nil, "u1", false)), "GET /sub?format=ndjson&user=u1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
		{"pushwire sub topic", string(pw.AppendSubscribe(nil, "t", true)), "GET /sub?format=ndjson&topic=t HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
		{"nchan sub sse", string(nc.AppendSubscribe(nil, "c1", false)), "GET /sub/c1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nAccept: text/event-stream\r\n\r\n"},
		{"pushwire pub conn", string(pw.AppendPublishPath(nil, "u1", "KEY", false)), "/pub/conn/KEY"},
		{"pushwire pub user without key", string(pw.AppendPublishPath(nil, "u1", "", false)), "/pub/user/u1"},
		{"pushwire pub topic", string(pw.AppendPublishPath(nil, "t", "", true)), "/pub/topic/t"},
		{"nchan pub", string(nc.AppendPublishPath(nil, "c1", "", false)), "/pub/c1"},
		{"batch line", string(pw.AppendBatchLine(nil, "u1", "KEY", false, []byte("pbm:1:2;"))), `{"to":"conn:KEY","data":"pbm:1:2;"}` + "\n"},
	} {
		if c.got != c.want {
			t.Fatalf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
	if !pw.PublishOK(200, nil) || pw.PublishOK(404, nil) || !nc.PublishOK(201, nil) || nc.PublishOK(202, nil) {
		t.Fatal("PublishOK: want pushwire 200 and Nchan 201 only")
	}
}

func TestCountBatchOK(t *testing.T) {
	t.Parallel()
	body := `{"status":200,"id":"a","delivered":1}` + "\n" + `{"status": 404,"error":"no live connection"}` + "\n\n" + `{"status":200}`
	got := map[int]int{}
	if n := countBatchOK([]byte(body), func(st, n int) { got[st] += n }); n != 2 || got[404] != 1 {
		t.Fatalf("countBatchOK = %d, others %v; want 2, {404:1}", n, got)
	}
}
