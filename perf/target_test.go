package perf

import "testing"

func TestTargetShapes(t *testing.T) {
	t.Parallel()
	pw := Target{Kind: KindPushwire, Edge: "127.0.0.1:8080", API: "127.0.0.1:8081", Format: FormatNDJSON}
	nc := Target{Kind: KindNchan, Edge: "127.0.0.1:9000", API: "127.0.0.1:9000", Format: FormatSSE}
	cf := Target{Kind: KindCentrifugo, Edge: "127.0.0.1:8000", API: "127.0.0.1:8000", Format: FormatSSE}
	fl := Target{Kind: KindFloor, Edge: "127.0.0.1:8090", API: "127.0.0.1:8090", Format: FormatSSE}
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
		{"centrifugo sub", string(cf.AppendSubscribe(nil, "c1", false)),
			"GET /connection/uni_sse?cf_connect=%7B%22subs%22%3A%7B%22c1%22%3A%7B%7D%7D%7D HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: text/event-stream\r\n\r\n"},
		{"centrifugo pub path", string(cf.AppendPublishPath(nil, "c1", "", false)), "/api/publish"},
		{"centrifugo pub body", string(cf.AppendPublishBody(nil, "c1", 7, 42, 0)), `{"channel":"c1","data":"pbm:7:42;"}`},
		{"centrifugo content type", cf.PublishContentType(), "application/json"},
		{"floor sub", string(fl.AppendSubscribe(nil, "pbu12", false)), "GET /sub/pbu12 HTTP/1.1\r\nHost: 127.0.0.1:8090\r\nAccept: text/event-stream\r\n\r\n"},
		{"floor pub", string(fl.AppendPublishPath(nil, "pbu12", "", false)), "/pub/pbu12"},
		{"floor broadcast", string(fl.AppendPublishPath(nil, "pbb", "", true)), "/pub/all"},
		{"floor pub body", string(fl.AppendPublishBody(nil, "pbu12", 7, 42, 0)), "pbm:7:42;"},
		{"batch line", string(pw.AppendBatchLine(nil, "u1", "KEY", false, []byte("pbm:1:2;"))), `{"to":"conn:KEY","data":"pbm:1:2;"}` + "\n"},
	} {
		if c.got != c.want {
			t.Fatalf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
	if !pw.PublishOK(200, nil) || pw.PublishOK(404, nil) || !nc.PublishOK(201, nil) || nc.PublishOK(202, nil) {
		t.Fatal("PublishOK: want pushwire 200 and Nchan 201 only")
	}
	if !cf.PublishOK(200, []byte(`{"result":{}}`)) || cf.PublishOK(200, []byte(`{"error":{"code":102,"message":"unknown channel"}}`)) ||
		cf.PublishOK(401, nil) || !fl.PublishOK(200, nil) {
		t.Fatal("PublishOK: want Centrifugo 200 without an error object, floor 200")
	}
	for _, name := range []string{"pushwire", "nchan", "centrifugo", "floor"} {
		if k, err := ParseKind(name); err != nil || k.String() != name {
			t.Fatalf("ParseKind(%q) = %v, %v", name, k, err)
		}
	}
	if _, err := ParseKind("pushpin"); err == nil {
		t.Fatal("ParseKind(pushpin): want an error")
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
