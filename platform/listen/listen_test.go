package listen

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// handOver binds a loopback listener and returns its address and a bare
// descriptor of the socket, as a child process started with ExtraFiles
// sees it: no os.File owns it, so only the code under test closes it.
func handOver(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String(), dupFD(t, l.(*net.TCPListener).File)
}

// dupFD returns a descriptor of the file open returns (closed again)
// that no os.File owns.
func dupFD(t *testing.T, open func() (*os.File, error)) int {
	t.Helper()
	f, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return fresh(fd)
}

// fresh forgets that an earlier test claimed fd's number: one test
// process reuses descriptor numbers that a real child inherits only once.
func fresh(fd int) int {
	mu.Lock()
	defer mu.Unlock()
	delete(claimed, fd)
	return fd
}

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestInheritedListenerIsUsed(t *testing.T) {
	addr, fd := handOver(t)
	l, err := TCPEnv(env(map[string]string{EnvVar: "127.0.0.1:1=" + strconv.Itoa(fd+1000) + "," + addr + "=" + strconv.Itoa(fd)}), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Addr().String() != addr {
		t.Fatalf("listener on %s, want %s", l.Addr(), addr)
	}
	// The parent's socket, not a new one: the port is still taken (the
	// parent's listener was closed, so only the inherited socket holds it).
	if other, err := net.Listen("tcp", addr); err == nil {
		other.Close()
		t.Fatalf("net.Listen(%s) succeeded: the inherited socket does not hold the port", addr)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := l.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatalf("accept on the inherited listener: %v", err)
	}
	s.Close()

	// Taken once: the descriptor is closed now and its number may belong
	// to another file.
	if _, err := TCPEnv(env(map[string]string{EnvVar: addr + "=" + strconv.Itoa(fd)}), addr); !errors.Is(err, errTaken) {
		t.Fatalf("second claim: %v, want %v", err, errTaken)
	}
}

func TestWithoutInheritedListenerListens(t *testing.T) {
	for name, v := range map[string]string{"unset": "", "other address": "127.0.0.1:1=3"} {
		t.Run(name, func(t *testing.T) {
			l, err := TCPEnv(env(map[string]string{EnvVar: v}), "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if port := l.Addr().(*net.TCPAddr).Port; port == 0 {
				t.Fatal("not bound")
			}
		})
	}
	// And net.Listen's error comes through: a port in use.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if l, err := TCPEnv(env(nil), busy.Addr().String()); err == nil {
		l.Close()
		t.Fatal("listening on a busy port succeeded")
	}
}

func TestMalformedEnvIsAnError(t *testing.T) {
	for _, v := range []string{
		"127.0.0.1:9000",                    // no fd
		"127.0.0.1:9000=three",              // fd not a number
		"127.0.0.1:9000=2",                  // stdio
		"localhost=3",                       // no port
		"127.0.0.1:9000=3,127.0.0.1:9000=4", // address twice
		"127.0.0.1:9000=3,127.0.0.1:9001=3", // fd twice
		"127.0.0.1:9000=3,",                 // empty entry
	} {
		_, err := TCPEnv(env(map[string]string{EnvVar: v}), "127.0.0.1:0")
		if err == nil || !strings.Contains(err.Error(), EnvVar) {
			t.Errorf("%s=%q: error %v, want one naming %s", EnvVar, v, err, EnvVar)
		}
	}
}

func TestInheritedDescriptorMustBeTheListener(t *testing.T) {
	t.Run("a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f")
		fd := dupFD(t, func() (*os.File, error) { return os.Create(path) })
		if _, err := TCPEnv(env(map[string]string{EnvVar: "127.0.0.1:9000=" + strconv.Itoa(fd)}), "127.0.0.1:9000"); err == nil {
			t.Fatal("a regular file was accepted as a listener")
		}
	})
	t.Run("another port", func(t *testing.T) {
		addr, fd := handOver(t)
		_, port, _ := net.SplitHostPort(addr)
		want := "127.0.0.1:" + strconv.Itoa(mustAtoi(t, port)+1)
		_, err := TCPEnv(env(map[string]string{EnvVar: want + "=" + strconv.Itoa(fd)}), want)
		if err == nil || !strings.Contains(err.Error(), "bound to "+addr) {
			t.Fatalf("error %v, want one saying the socket is bound to %s", err, addr)
		}
	})
	t.Run("a connected socket", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fd := dupFD(t, c.(*net.TCPConn).File)
		local := c.LocalAddr().String()
		_, err = TCPEnv(env(map[string]string{EnvVar: local + "=" + strconv.Itoa(fd)}), local)
		if err == nil || !strings.Contains(err.Error(), "not listening") {
			t.Fatalf("error %v, want one saying the socket is not listening", err)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
