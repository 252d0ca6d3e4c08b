package launcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a local PostgreSQL cluster the launcher's scale mode runs
// the services on (CreateDatabases, then PostgresEnv as Config.ExtraEnv;
// `transload-run -postgres`): initdb on first use, then a
// postmaster on a loopback port, the way platform/testharness/pgtest
// starts one, but durable (fsync, synchronous_commit and full-page writes
// stay on: what a service acknowledged survives a crash) and kept across
// runs in its folder.
type Postgres struct {
	// Addr is the loopback host:port the server listens on.
	Addr string
	// Dir is the cluster's folder: data/ and postgres.log.
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
}

// PostgresBinaries are searched after PATH for initdb and postgres, newest
// Debian version first.
var postgresBinaries = []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"}

// lookPostgres finds a PostgreSQL server binary (initdb, postgres).
func lookPostgres(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, pattern := range postgresBinaries {
		matches, _ := filepath.Glob(filepath.Join(pattern, name))
		slices.Sort(matches)
		if len(matches) > 0 {
			return matches[len(matches)-1], nil
		}
	}
	return "", fmt.Errorf("launcher: %s not found on the PATH or in %v (apt-get install -y postgresql, or make test-servers)", name, postgresBinaries)
}

// StartPostgres starts the cluster in dir on the loopback port (initdb
// first when dir holds none yet) and returns once it accepts connections.
// Run as root, initdb and postgres run as the postgres OS user (they
// refuse root), which then owns dir. Stop it with Stop; a launcher that
// dies without stopping it takes it down too (parent-death signal).
func StartPostgres(ctx context.Context, dir string, port int, log io.Writer) (*Postgres, error) {
	if log == nil {
		log = io.Discard
	}
	initdb, err := lookPostgres("initdb")
	if err != nil {
		return nil, err
	}
	server, err := lookPostgres("postgres")
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("launcher: postgres folder: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("launcher: give %s to the postgres user: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(log, "launcher: initdb %s\n", data)
		cmd := exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
			"--no-locale", "--no-instructions")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("launcher: initdb: %w\n%s", err, out)
		}
	}
	p := &Postgres{Addr: loopback(port), Dir: dir, done: make(chan struct{})}
	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("launcher: postgres log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	p.cmd = exec.Command(server, "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		// Two replicas of four services, each with its pool, plus the
		// others: more than the default 100.
		"-c", "max_connections=400",
		"-c", "log_min_messages=warning")
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// SIGINT is PostgreSQL's fast shutdown: clients are disconnected and
	// the cluster is checkpointed, nothing committed is lost.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGINT}
	started := make(chan error, 1)
	// The parent-death signal follows the thread that forked the child:
	// that goroutine keeps its thread until postgres has exited.
	go func() {
		runtime.LockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			close(p.done)
			return
		}
		started <- nil
		_ = p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("launcher: start postgres: %w", err)
	}
	if err := p.waitReady(ctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	fmt.Fprintf(log, "launcher: %-16s ready  addr=%s data=%s\n", "postgres", p.Addr, data)
	return p, nil
}

// waitReady pings the postgres database until the server answers: a
// postmaster that listens may still be starting up or recovering.
func (p *Postgres) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(pctx, PostgresDSN(p.Addr, "postgres"))
		if err == nil {
			err = conn.Ping(pctx)
			_ = conn.Close(pctx)
		}
		pcancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("launcher: postgres exited during start: %w", errors.Join(last, p.logTail()))
		case <-ctx.Done():
			return fmt.Errorf("launcher: postgres not ready: %w", errors.Join(last, p.logTail()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (fast shutdown: a checkpoint, nothing
// committed lost) and waits for it; after 60 seconds it is killed.
func (p *Postgres) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return nil
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("launcher: postgres ignored the fast shutdown for 60s and was killed")
	}
}

func (p *Postgres) logTail() error {
	b, err := os.ReadFile(filepath.Join(p.Dir, "postgres.log"))
	if err != nil {
		return nil
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return fmt.Errorf("server log:\n%s", b)
}

// postgresCredential is the identity to run initdb and postgres as: this
// process's, or the postgres OS user's when running as root.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("launcher: PostgreSQL refuses to run as root and there is no postgres OS user (%w); install the postgresql package", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// PostgresDSN is the DSN of database db on the local cluster at addr (the
// postgres superuser, trusted on loopback).
func PostgresDSN(addr, db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// DatabaseName is the PostgreSQL database of a process in scale mode: its
// name with "-" as "_" (catalog-pricing -> catalog_pricing).
func DatabaseName(process string) string { return strings.ReplaceAll(process, "-", "_") }

// databaseProcesses are the processes of the mesh that keep a database:
// all but NATS and the gateway.
func databaseProcesses() []string {
	return slices.DeleteFunc(slices.Clone(StartOrder), func(n string) bool { return n == NATS || n == Gateway })
}

// PostgresEnv is the Config.ExtraEnv that puts every service of the mesh
// on its own database of the PostgreSQL server at addr (DATABASE_URL; it
// wins over the SQLite default). Merge it into an ExtraEnv of your own.
func PostgresEnv(addr string) map[string][]string {
	env := map[string][]string{}
	for _, name := range databaseProcesses() {
		env[name] = []string{"DATABASE_URL=" + PostgresDSN(addr, DatabaseName(name))}
	}
	return env
}

// CreateDatabases creates the database of every service of the mesh on
// the PostgreSQL server at addr that does not have one yet (DatabaseName;
// each service migrates its own schema when it starts).
func CreateDatabases(ctx context.Context, addr string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("launcher: postgres address %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, PostgresDSN(addr, "postgres"))
	if err != nil {
		return fmt.Errorf("launcher: postgres: %w", err)
	}
	defer func() { _ = admin.Close(context.WithoutCancel(ctx)) }()
	for _, name := range databaseProcesses() {
		db := DatabaseName(name)
		var exists bool
		if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
			return fmt.Errorf("launcher: postgres: %w", err)
		}
		if exists {
			continue
		}
		// db is a process name with "_" for "-": letters, digits and "_".
		if _, err := admin.Exec(ctx, `CREATE DATABASE "`+db+`"`); err != nil {
			return fmt.Errorf("launcher: create database %s: %w", db, err)
		}
		fmt.Fprintf(log, "launcher: created database %s\n", db)
	}
	return nil
}
