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

// start runs the binary with env; stop ends it and fails the test unless
// it returns cleanly and in time.
func start(t *testing.T, env map[string]string) (out *harness.Buffer, stop func()) {
	t.Helper()
	out = &harness.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, out) }()
	return out, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("run did not return after cancel")
		}
	}
}

func TestRunServesAndStopsWithoutLoggingSecrets(t *testing.T) {
	const (
		secret     = "super-secret-key-4711"
		opsSecret  = "super-secret-operator-4711"
		sessionKey = "5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55"
	)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0",
		"API_KEYS":     secret + ":web," + opsSecret + ":ops:operator",
		"CATALOG_ADDR": "127.0.0.1:1", "INVENTORY_ADDR": "127.0.0.1:1", "ORDER_ADDR": "127.0.0.1:1", "FULFILLMENT_ADDR": "127.0.0.1:1",
		"OPS_ADDR": "127.0.0.1:1", "CONSOLE_SESSION_KEY": sessionKey,
		"NATS_URL": "", "LOG_LEVEL": "debug",
	}
	out, stop := start(t, env)

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
	// One authenticated call per API, so both keys pass through the
	// logging chain.
	for key, path := range map[string]string{secret: "/v1/orders/O-1", opsSecret: "/v1/ops/kpis"} {
		req, _ := http.NewRequest("GET", "http://"+rest+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s with its service down: status %d, want 503", path, resp.StatusCode)
		}
	}

	stop()
	for _, s := range []string{secret, opsSecret, sessionKey} {
		if strings.Contains(out.String(), s) {
			t.Errorf("the secret %.6s… appears in the logs", s)
		}
	}
	if !strings.Contains(out.String(), `"API_KEYS":"******"`) || !strings.Contains(out.String(), `"CONSOLE_SESSION_KEY":"******"`) {
		t.Errorf("startup config does not show API_KEYS and CONSOLE_SESSION_KEY masked:\n%s", out.String())
	}
	if strings.Contains(out.String(), "CONSOLE_SESSION_KEY is not set") {
		t.Error("warned about a missing console session key that is set")
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

func TestRunWarnsWithoutConsoleSessionKey(t *testing.T) {
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0",
		"NATS_URL": "", "LOG_LEVEL": "warn",
	}
	out, stop := start(t, env)
	wait.Eventually(t, 10*time.Second, "the warning about the console session key", func() error {
		return wait.Check(logField(out.String(), "CONSOLE_SESSION_KEY is not set: console sessions are sealed with a random key of this process, "+
			"so they end when it restarts and are not recognized by other gateway replicas", "level") == "WARN", "logs so far:\n%s", out.String())
	})
	stop()
}
