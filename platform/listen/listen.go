// Package listen opens a binary's TCP listeners. A listener the parent
// process bound and handed over wins over a new one: the local launcher
// (deploy/local) binds every port of the mesh before it starts anything
// and passes each bound socket to the process configured with that
// address, so no port can be taken between the pick and the bind.
//
// The hand-over is the environment variable [EnvVar], a comma-separated
// list of address=fd pairs, e.g.
//
//	TRANSLOAD_LISTEN_FDS=127.0.0.1:9003=3,127.0.0.1:9103=4
//
// where fd is a listening socket the child inherited (exec.Cmd.ExtraFiles
// puts them at 3, 4, ...). An address is matched as written in the
// binary's configuration (GRPC_ADDR, ADMIN_ADDR, HTTP_ADDR). Without the
// variable, or for an address it does not name, [TCP] is
// net.Listen("tcp", addr).
package listen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// EnvVar names the inherited listeners: address=fd pairs, comma
// separated. Set by the launcher, not by hand.
const EnvVar = "TRANSLOAD_LISTEN_FDS"

// TCP returns a listener for addr: the socket inherited under [EnvVar]
// when the environment names addr, else net.Listen("tcp", addr).
func TCP(addr string) (net.Listener, error) { return TCPEnv(os.Getenv, addr) }

// TCPEnv is [TCP] reading [EnvVar] through getenv. An inherited socket is
// taken once per process: a second call for the same address is an
// error, since the descriptor was closed (and its number may be reused)
// after the first. A malformed [EnvVar], a descriptor that is not a
// listening TCP socket, or one bound to a different port than addr is an
// error naming the variable, never a silent fallback to a new listener.
func TCPEnv(getenv func(string) string, addr string) (net.Listener, error) {
	fds, err := parse(getenv(EnvVar))
	if err != nil {
		return nil, err
	}
	fd, ok := fds[addr]
	if !ok {
		return net.Listen("tcp", addr)
	}
	return inherit(addr, fd)
}

// parse reads address=fd pairs; an empty value names nothing.
func parse(v string) (map[string]int, error) {
	fds := map[string]int{}
	if strings.TrimSpace(v) == "" {
		return fds, nil
	}
	seen := map[int]string{}
	for entry := range strings.SplitSeq(v, ",") {
		entry = strings.TrimSpace(entry)
		i := strings.LastIndexByte(entry, '=')
		if i < 0 {
			return nil, fmt.Errorf("listen: %s entry %q: want host:port=fd", EnvVar, entry)
		}
		addr, fdText := entry[:i], entry[i+1:]
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("listen: %s entry %q: address: %w", EnvVar, entry, err)
		}
		fd, err := strconv.Atoi(fdText)
		if err != nil || fd < 3 {
			return nil, fmt.Errorf("listen: %s entry %q: fd must be a number ≥ 3 (0-2 are stdio)", EnvVar, entry)
		}
		if _, dup := fds[addr]; dup {
			return nil, fmt.Errorf("listen: %s names %s twice", EnvVar, addr)
		}
		if other, dup := seen[fd]; dup {
			return nil, fmt.Errorf("listen: %s gives fd %d to both %s and %s", EnvVar, fd, other, addr)
		}
		fds[addr], seen[fd] = fd, addr
	}
	return fds, nil
}

var (
	mu      sync.Mutex
	claimed = map[int]bool{}
)

// errTaken is returned for a second claim of one inherited socket.
var errTaken = errors.New("already taken in this process")

// inherit turns fd into a listener for addr, once per process.
func inherit(addr string, fd int) (net.Listener, error) {
	mu.Lock()
	defer mu.Unlock()
	if claimed[fd] {
		return nil, fmt.Errorf("listen: %s: inherited fd %d for %s: %w", EnvVar, fd, addr, errTaken)
	}
	// Claimed before trying: whatever happens, fd is closed below and its
	// number may be reused by the next file the process opens.
	claimed[fd] = true
	f := os.NewFile(uintptr(fd), "inherited listener "+addr)
	if f == nil {
		return nil, fmt.Errorf("listen: %s: fd %d for %s is not valid", EnvVar, fd, addr)
	}
	l, err := net.FileListener(f) // a dup; the inherited descriptor is closed next
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("listen: %s: fd %d for %s is not a listening socket: %w", EnvVar, fd, addr, err)
	}
	got, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		_ = l.Close()
		return nil, fmt.Errorf("listen: %s: fd %d for %s is a %s listener, not TCP", EnvVar, fd, addr, l.Addr().Network())
	}
	if _, port, _ := net.SplitHostPort(addr); port != "0" && port != strconv.Itoa(got.Port) {
		_ = l.Close()
		return nil, fmt.Errorf("listen: %s: fd %d for %s is bound to %s", EnvVar, fd, addr, got)
	}
	if err := accepting(l); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("listen: %s: fd %d for %s: %w", EnvVar, fd, addr, err)
	}
	return l, nil
}

// accepting reports an error unless l's socket is in the listening state
// (a bound or connected socket wraps as a listener too, and would fail
// only at the first Accept).
func accepting(l net.Listener) error {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var on int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_ACCEPTCONN: %w", serr)
	}
	if on == 0 {
		return errors.New("the socket is not listening")
	}
	return nil
}
