package natstest_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/transload/transload/platform/testharness/natstest"
)

func TestRestartKeepsURLAndData(t *testing.T) {
	s := natstest.Start(t)
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "R", Subjects: []string{"r"}, Storage: nats.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("r", []byte("1")); err != nil {
		t.Fatal(err)
	}
	s2 := natstest.Restart(t, s)
	if s2.ClientURL() != s.ClientURL() {
		t.Fatalf("URL changed: %s -> %s", s.ClientURL(), s2.ClientURL())
	}
	nc2, err := nats.Connect(s2.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, _ := nc2.JetStream()
	info, err := js2.StreamInfo("R")
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("msgs = %d, want 1", info.State.Msgs)
	}
}
