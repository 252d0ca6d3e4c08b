package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/transload/transload/platform/testharness/harness"
)

// dirPrefix names the temporary directories of clusters; sweepStale looks
// for it.
const dirPrefix = "pgtest-"

// ownerFile, inside a cluster directory, holds the pid of the test process
// that owns the cluster.
const ownerFile = "owner.pid"

// portAttempts bounds the retries when another process takes the free port
// before postgres binds it.
const portAttempts = 5

type binaries struct {
	initdb, postgres string
}

// cluster is a postgres server process this test binary started.
type cluster struct {
	dir    string // temporary directory: owner.pid, data/, postgres.log
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when the postmaster has exited
}

// startCluster runs initdb and starts postgres on a free port.
func startCluster(ctx context.Context, t testing.TB, bins binaries) (*cluster, error) {
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	for _, b := range baseDirs() {
		sweepStale(b)
	}
	base := baseDir(cred)

	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("make cluster directory: %w", err)
	}
	c := &cluster{dir: dir}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		c.removeDir()
		return nil, fmt.Errorf("write %s: %w", ownerFile, err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			c.removeDir()
			return nil, fmt.Errorf("give %s to the postgres user: %w", dir, err)
		}
	}

	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, bins.initdb,
		"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--no-locale", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.SysProcAttr = procAttr(cred, false)
	if out, err := initdb.CombinedOutput(); err != nil {
		c.removeDir()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	var errs []error
	for range portAttempts {
		c.port = harness.FreePort(t)
		err := c.startPostgres(bins.postgres, cred)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if !strings.Contains(err.Error(), "could not bind") && !strings.Contains(err.Error(), "could not create any TCP/IP sockets") {
			break
		}
	}
	c.removeDir()
	return nil, fmt.Errorf("start postgres: %w", errors.Join(errs...))
}

// startPostgres starts the postmaster on c.port and returns once it
// listens or has exited.
func (c *cluster) startPostgres(bin string, cred *syscall.Credential) error {
	logPath := filepath.Join(c.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", logPath, err)
	}
	defer logFile.Close() // the child keeps its own descriptor

	cmd := exec.Command(bin,
		"-D", filepath.Join(c.dir, "data"),
		"-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=32MB",
		"-c", "max_wal_size=1GB",
		"-c", "checkpoint_timeout=30min",
		"-c", "autovacuum=off",
		"-c", "jit=off",
		"-c", "deadlock_timeout=100ms",
		"-c", "log_min_messages=warning",
		"-c", "log_min_error_statement=panic",
	)
	cmd.Dir = c.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = procAttr(cred, true)

	c.cmd = cmd
	c.exited = make(chan struct{})
	started := make(chan error, 1)
	// The parent-death signal fires when the OS thread that forked the
	// child exits, not when the process does: start and wait from a
	// goroutine that keeps its thread locked until postgres has exited.
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(c.exited)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(c.exited)
		// Returning with the thread locked discards the thread.
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("exec %s: %w", bin, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", c.port)
	ready := make(chan error, 1)
	go func() { ready <- harness.WaitTCP(ctx, addr) }()
	select {
	case err := <-ready:
		if err != nil {
			_ = c.kill()
			return errors.Join(err, c.logTail())
		}
		return nil
	case <-c.exited:
		// Stop the dial loop and wait for it; its error carries the last
		// dial failure, which goes with the log tail as in waitReady.
		cancel()
		return fmt.Errorf("postgres exited: %w", errors.Join(<-ready, c.logTail()))
	}
}

// stop shuts the postmaster down and removes the directory.
func (c *cluster) stop() error {
	errs := []error{c.kill()}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", c.dir, err))
	}
	return errors.Join(errs...)
}

// kill shuts the postmaster down in immediate mode (the data is thrown
// away anyway) and waits for it to exit.
func (c *cluster) kill() error {
	var errs []error
	if c.cmd != nil && c.cmd.Process != nil {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-c.exited:
			case <-time.After(15 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.exited
				errs = append(errs, errors.New("postgres ignored SIGQUIT for 15s and was killed"))
			}
		}
	}
	return errors.Join(errs...)
}

func (c *cluster) removeDir() { _ = os.RemoveAll(c.dir) }

// logTail returns the end of the server log as an error for messages, or
// nil when there is no cluster.
func (c *cluster) logTail() error {
	if c == nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if err != nil {
		return fmt.Errorf("(no server log: %w)", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return fmt.Errorf("server log:\n%s", b)
}

// serverCredential returns the identity to run initdb and postgres as: nil
// (this process's) normally, the postgres OS user when running as root.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root: PostgreSQL refuses to run as root and there is no postgres OS user to run it as (%w); install the postgresql package, which creates it, or run the tests as another user", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user id %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres group id %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// shmDir is a memory-backed directory on Linux. A cluster there clones
// databases about ten times faster than on a disk, fsync=off or not.
const shmDir = "/dev/shm"

// shmMinFree is the free space shmDir needs before pgtest uses it (a
// container's default /dev/shm is only 64MB).
const shmMinFree = 1 << 30

// baseDirs lists where cluster directories may live, preferred first.
func baseDirs() []string { return []string{shmDir, os.TempDir(), "/tmp"} }

// baseDir returns the directory to create cluster directories in: the
// first of baseDirs that exists, has room (for shmDir) and, when the
// server runs as another user (cred != nil), that user can reach (not
// TMPDIR under /root, say).
func baseDir(cred *syscall.Credential) string {
	for _, base := range baseDirs() {
		if base == shmDir && freeBytes(base) < shmMinFree {
			continue
		}
		if reachable(base, cred) {
			return base
		}
	}
	return os.TempDir()
}

// reachable reports whether base exists and, for another user, whether
// every directory up to the root lets others traverse it.
func reachable(base string, cred *syscall.Credential) bool {
	for dir := base; ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || (cred != nil && fi.Mode().Perm()&0o001 == 0) {
			return false
		}
		if dir == filepath.Dir(dir) {
			return true
		}
	}
}

// sweepStale removes the cluster directories under base whose test
// process is gone, first killing a postmaster that survived it (possible
// only where the parent-death signal is unavailable). Directories of live
// test processes are left alone.
func sweepStale(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			// Just created by another process, or not ours: leave it unless
			// it is clearly abandoned.
			if fi, statErr := os.Stat(dir); statErr != nil || time.Since(fi.ModTime()) < time.Hour {
				continue
			}
		} else if owner, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || processAlive(owner) {
			continue
		}
		killPostmaster(dir)
		_ = os.RemoveAll(dir)
	}
}

// killPostmaster kills the postmaster recorded in dir/data/postmaster.pid
// if that process still runs on dir.
func killPostmaster(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
		return // gone, or the pid was reused by something else
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
