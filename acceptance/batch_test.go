package acceptance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestBatchPublish(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-message-bytes", "100")
	s := n.subscribe("/sub?user=u&topic=t")
	defer s.close()
	s.packet()

	lines := []struct {
		in     string
		status int
		fields string // sorted field names of the result line
		check  string // a fragment the result line holds
	}{
		{`{"to":"conn:` + s.key + `","data":{"a":1},"event":"e"}`, 200, "delivered,id,nodes,status,stored", `"delivered":1`},
		{`{"to":"user:nobody","data":1}`, 404, "error,status", `"error":"`},
		{`{"to":"user:off","data":"s","qos":1}`, 202, "delivered,id,nodes,status,stored", `"stored":true`},
		{`{"to":"bogus:x","data":1}`, 400, "error,status", `"error":"`},
		{`not json`, 400, "error,status", `"error":"`},
		{`{"to":"topic:t"}`, 400, "error,status", `"error":"`},
		{`{"to":"topic:t","data":"` + strings.Repeat("z", 200) + `"}`, 413, "error,status", `"error":"`},
		{`{"to":"topic:t","data":[1,"two",{"3":null}]}`, 200, "delivered,id,nodes,status,stored", `"delivered":1`},
		{`{"to":"user:u","data":"text"}`, 200, "delivered,id,nodes,status,stored", `"delivered":1`},
		{`{"to":"all","data":null}`, 200, "delivered,id,nodes,status,stored", `"delivered":1`},
	}
	var body strings.Builder
	for _, l := range lines {
		body.WriteString(l.in + "\n")
	}
	r := n.do("POST", "/pub", body.String(), "Content-Type", "application/x-ndjson")
	if r.status != 200 {
		t.Fatalf("POST /pub = %d %s; want 200", r.status, r.body)
	}
	out := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
	if len(out) != len(lines) {
		t.Fatalf("POST /pub: %d result lines for %d input lines:\n%s", len(out), len(lines), r.body)
	}
	var ids []string
	for i, l := range lines {
		var f map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out[i]), &f); err != nil {
			t.Errorf("result line %d %q: %v", i, out[i], err)
			continue
		}
		if got := string(f["status"]); got != fmt.Sprint(l.status) {
			t.Errorf("line %d %s: status %s; want %d (%s)", i, l.in, got, l.status, out[i])
		}
		if got := keysOf(f); got != l.fields {
			t.Errorf("line %d: result fields %s; want %s (%s)", i, got, l.fields, out[i])
		}
		if !strings.Contains(out[i], l.check) {
			t.Errorf("line %d: result %s; want it to hold %s", i, out[i], l.check)
		}
		if l.status == 200 {
			var id string
			json.Unmarshal(f["id"], &id)
			ids = append(ids, id)
		}
	}
	if len(ids) != 4 {
		t.Fatalf("ids %v", ids)
	}
	want := []string{
		`{"protocol":2,"time":T,"id":"` + ids[0] + `","to":"conn:` + s.key + `","event":"e","data":{"a":1}}`,
		`{"protocol":2,"time":T,"id":"` + ids[1] + `","to":"topic:t","data":[1,"two",{"3":null}]}`,
		`{"protocol":2,"time":T,"id":"` + ids[2] + `","to":"user:u","data":"text"}`,
		`{"protocol":2,"time":T,"id":"` + ids[3] + `","to":"all","data":null}`,
	}
	for i, w := range want {
		if got := s.packet(); got != w {
			t.Errorf("batch message %d = %s; want %s", i, got, w)
		}
	}

	// The stored QoS 1 line is delivered when user:off connects.
	off := n.subscribe("/sub?user=off")
	defer off.close()
	off.packet()
	if got := off.packet(); !strings.Contains(got, `"to":"user:off","data":"s"`) {
		t.Errorf("stored batch message on connect = %s; want data \"s\" to user:off", got)
	}
}

func TestBatchTooLarge(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-message-bytes", "256", "--max-batch-bytes", "1KiB")
	body := strings.Repeat(`{"to":"all","data":1}`+"\n", 100)
	if r := n.do("POST", "/pub", body); r.status != 413 {
		t.Fatalf("POST /pub with %d bytes over --max-batch-bytes 1KiB = %d %s; want 413", len(body), r.status, r.body)
	}
}
