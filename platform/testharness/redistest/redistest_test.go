package redistest

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	addr := s.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := ping(ctx, addr); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Errorf("Addr() host = %q, want loopback", host)
	}

	s.Stop()
	if err := ping(ctx, addr); err == nil {
		t.Fatal("PING succeeded after Stop")
	}
	s.Stop() // idempotent

	s.Restart()
	if got := s.Addr(); got != addr {
		t.Errorf("Addr() after Restart = %q, want %q", got, addr)
	}
	if err := ping(ctx, addr); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}

	s.Restart() // restart while running
	if err := ping(ctx, addr); err != nil {
		t.Fatalf("PING after second Restart: %v", err)
	}
}

func TestParallelServersAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
	a.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ping(ctx, b.Addr()); err != nil {
		t.Fatalf("stopping one server affected the other: %v", err)
	}
}

func TestNoPersistence(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, q := range []struct{ cmd, want string }{
		{"CONFIG GET save\r\n", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"},
		{"CONFIG GET appendonly\r\n", "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"},
	} {
		if _, err := c.Write([]byte(q.cmd)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(q.want))
		if _, err := readFull(c, buf); err != nil {
			t.Fatalf("%q: %v", q.cmd, err)
		}
		if string(buf) != q.want {
			t.Errorf("%q = %q, want %q", q.cmd, buf, q.want)
		}
	}
}

func readFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
