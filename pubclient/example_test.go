package pubclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/pushwire/pushwire/pubclient"
)

// A client for a three-node cluster with an api token. Publishes spread over
// the nodes; a node that is down is skipped.
func ExampleNew() {
	c, err := pubclient.New(pubclient.Config{
		Addrs:   []string{"10.0.0.1:8081", "10.0.0.2:8081", "10.0.0.3:8081"},
		Token:   "api-token",
		Timeout: 5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

// Publish one JSON message to a user, with a key so that a retry after a 503
// or a broken connection cannot deliver it twice.
func ExampleClient_Publish() {
	c, err := pubclient.New(pubclient.Config{Addrs: []string{"127.0.0.1:8081"}})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Publish(ctx, pubclient.Message{
		To:             "user:42",
		Data:           []byte(`{"text":"hello"}`),
		ContentType:    "application/json",
		Event:          "chat",
		QoS:            1,
		TTL:            time.Hour,
		IdempotencyKey: "chat-msg-9f3a",
	})
	switch {
	case errors.Is(err, pubclient.ErrNotFound):
		fmt.Println("user 42 is offline")
	case err != nil:
		log.Print(err)
	case res.Duplicate:
		fmt.Println("already published as", res.ID)
	default:
		fmt.Println("delivered to", res.Delivered, "connections; stored:", res.Stored)
	}
}

// Publish many messages in one request; results arrive line by line.
func ExampleClient_PublishBatch() {
	c, err := pubclient.New(pubclient.Config{Addrs: []string{"127.0.0.1:8081"}})
	if err != nil {
		log.Fatal(err)
	}
	msgs := []pubclient.BatchMessage{
		{To: "user:42", Data: json.RawMessage(`{"n":1}`), IdempotencyKey: "n-1"},
		{To: "topic:news", Data: json.RawMessage(`"breaking"`), Event: "news", IdempotencyKey: "n-2"},
	}
	err = c.PublishBatch(context.Background(), msgs, func(i int, r pubclient.Result, err error) {
		if err != nil {
			fmt.Printf("line %d: %v\n", i, err)
			return
		}
		fmt.Printf("line %d: id %s delivered %d\n", i, r.ID, r.Delivered)
	})
	if err != nil {
		log.Print(err)
	}
}
