package auth

import (
	"reflect"
	"testing"
	"time"
)

func TestParseAnswer(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body    string
		want    Identity
		wantErr error
	}{
		{"", Identity{AnyTopic: true}, nil},
		{" \r\n\t ", Identity{AnyTopic: true}, nil},
		{`{}`, Identity{AnyTopic: true}, nil},
		{`{"user":"42"}`, Identity{User: "42", AnyTopic: true}, nil},
		{` { "user" : "42" , "topics" : [ "news" , "user.42.*" ] } ` + "\n",
			Identity{User: "42", Topics: []string{"news", "user.42.*"}}, nil},
		{`{"topics":[]}`, Identity{Topics: []string{}}, nil},
		{`{"topics":["a"]}`, Identity{Topics: []string{"a"}}, nil},
		{`{"user":null}`, Identity{AnyTopic: true}, nil},
		{`{"user":""}`, Identity{AnyTopic: true}, nil},
		{`{"user":"caf\u00e9 \"q\""}`, Identity{User: `café "q"`, AnyTopic: true}, nil},
		{`{"user":"7","extra":{"deep":[1,2,{"x":null}]},"n":1.5}`, Identity{User: "7", AnyTopic: true}, nil},
		{`{"User":"7","TOPICS":[]}`, Identity{AnyTopic: true}, nil}, // keys match exactly
		{`{"user":"a","user":"b"}`, Identity{User: "b", AnyTopic: true}, nil},

		{`null`, Identity{}, errAnswerNotObject},
		{`[]`, Identity{}, errAnswerNotObject},
		{`"42"`, Identity{}, errAnswerNotObject},
		{`ok`, Identity{AnyTopic: true}, nil},   // not JSON: a plain "allowed"
		{`OK\n`, Identity{AnyTopic: true}, nil}, // (nginx auth_request services)
		{`{`, Identity{}, errAnswerNotObject},
		{`{"user":"42"`, Identity{}, errAnswerNotObject},
		{`{"user":"42"} {}`, Identity{}, errAnswerNotObject},
		{`{"user":"42"}x`, Identity{}, errAnswerNotObject},
		{`{"user":"42",}`, Identity{}, errAnswerNotObject},
		{`{'user':'42'}`, Identity{}, errAnswerNotObject},
		{"{\"user\":\"\xff\"}", Identity{}, errAnswerNotObject},   // invalid UTF-8
		{"{\"user\":\"a\x01b\"}", Identity{}, errAnswerNotObject}, // raw control byte
		{`{"user":42}`, Identity{}, errAnswerUser},
		{`{"user":true}`, Identity{}, errAnswerUser},
		{`{"user":["42"]}`, Identity{}, errAnswerUser},
		{`{"topics":null}`, Identity{}, errAnswerTopics},
		{`{"topics":"news"}`, Identity{}, errAnswerTopics},
		{`{"topics":["news",1]}`, Identity{}, errAnswerTopics},
		{`{"topics":[null]}`, Identity{}, errAnswerTopics},
		{`{"topics":{"a":"b"}}`, Identity{}, errAnswerTopics},

		{`{"user":"42","ttl":60}`, Identity{User: "42", AnyTopic: true, TTL: time.Minute}, nil},
		{`{"ttl":1.5,"topics":[]}`, Identity{Topics: []string{}, TTL: 1500 * time.Millisecond}, nil},
		{`{"ttl":1e-9}`, Identity{AnyTopic: true, TTL: time.Millisecond}, nil}, // never 0: 0 would mean no limit
		{`{"ttl":315360000}`, Identity{AnyTopic: true, TTL: maxTTL}, nil},
		{`{"ttl":null}`, Identity{AnyTopic: true}, nil},
		{`{"ttl":0}`, Identity{}, errAnswerTTL},
		{`{"ttl":-5}`, Identity{}, errAnswerTTL},
		{`{"ttl":315360001}`, Identity{}, errAnswerTTL},
		{`{"ttl":"60"}`, Identity{}, errAnswerTTL},
		{`{"ttl":true}`, Identity{}, errAnswerTTL},
		{`{"ttl":1e400}`, Identity{}, errAnswerTTL}, // beyond float64
	} {
		got, err := parseAnswer([]byte(c.body))
		if err != c.wantErr || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseAnswer(%q) = %+v, %v; want %+v, %v", c.body, got, err, c.want, c.wantErr)
		}
	}
}

// TestParseAnswerCopies: the identity must outlive the body, which is a pooled response buffer.
func TestParseAnswerCopies(t *testing.T) {
	t.Parallel()
	body := []byte(`{"user":"alice","topics":["news"]}`)
	id, err := parseAnswer(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if id.User != "alice" || len(id.Topics) != 1 || id.Topics[0] != "news" {
		t.Errorf("after the body was overwritten the identity is %+v; want user alice, topics [news]", id)
	}
}
