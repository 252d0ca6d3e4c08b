package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/platform/testharness/harness"
	"github.com/transload/transload/platform/testharness/wait"
)

// logField returns field of the first JSON log line whose msg is msg.
func logField(logs, msg, field string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			s, _ := m[field].(string)
			return s
		}
	}
	return ""
}

func TestRunServesAndStopsWithoutLoggingSecrets(t *testing.T) {
	const secret = "super-secret-key-4711"
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0",
		"API_KEYS":     secret + ":web",
		"CATALOG_ADDR": "127.0.0.1:1", "INVENTORY_ADDR": "127.0.0.1:1", "ORDER_ADDR": "127.0.0.1:1", "FULFILLMENT_ADDR": "127.0.0.1:1",
		"NATS_URL": "", "LOG_LEVEL": "debug",
	}
	var out harness.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &out) }()

	var admin, rest string
	wait.Eventually(t, 10*time.Second, "the gateway logs its listeners", func() error {
		admin = logField(out.String(), "admin http listening", "addr")
		rest = logField(out.String(), "gateway ready to serve", "rest")
		return wait.Check(admin != "" && rest != "", "logs so far:\n%s", out.String())
	})
	wait.Eventually(t, 10*time.Second, "the gateway ready", func() error {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		return wait.Check(resp.StatusCode == http.StatusOK, "/readyz answers %d", resp.StatusCode)
	})
	// One authenticated call, so the key passes through the logging chain.
	req, _ := http.NewRequest("GET", "http://"+rest+"/v1/orders/O-1", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("order service down: status %d, want 503", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if strings.Contains(out.String(), secret) {
		t.Error("the API key appears in the logs")
	}
	if !strings.Contains(out.String(), `"API_KEYS":"******"`) {
		t.Errorf("startup config does not show API_KEYS masked:\n%s", out.String())
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(context.Background(), func(k string) string {
		if k == "API_KEYS" {
			return "tiny"
		}
		return ""
	}, &harness.Buffer{})
	if err == nil || strings.Contains(err.Error(), "tiny") {
		t.Fatalf("err %v: want a config error that does not echo the key", err)
	}
}
