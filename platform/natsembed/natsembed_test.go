package natsembed_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/transload/transload/platform/natsembed"
)

func TestStartRestartKeepsStreams(t *testing.T) {
	dir := t.TempDir()
	s, err := natsembed.Start(natsembed.Options{StoreDir: dir})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	url := s.ClientURL()
	nc, err := nats.Connect(url)
	if err != nil {
		s.Shutdown()
		t.Fatalf("connect: %v", err)
	}
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: nats.FileStorage}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	if _, err := js.Publish("t.a", []byte("x")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	nc.Close()
	s.Shutdown()

	s2, err := natsembed.Start(s.Options())
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(s2.Shutdown)
	if s2.ClientURL() != url {
		t.Fatalf("restart URL = %s, want %s", s2.ClientURL(), url)
	}
	nc2, err := nats.Connect(s2.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, _ := nc2.JetStream()
	info, err := js2.StreamInfo("T")
	if err != nil {
		t.Fatalf("stream info after restart: %v", err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("messages after restart = %d, want 1", info.State.Msgs)
	}
}

func TestStartRequiresStoreDir(t *testing.T) {
	if _, err := natsembed.Start(natsembed.Options{}); err == nil {
		t.Fatal("Start without StoreDir succeeded, want error")
	}
}
