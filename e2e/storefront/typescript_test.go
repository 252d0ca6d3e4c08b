package storefront

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// TestTypeScriptClient runs the TypeScript client's npm scripts in
// clients/typescript against the mesh: the committed types equal a fresh
// generation from gen/openapi3/storefront.v1.json (generate-check), tsc
// type-checks and compiles the client and its tests (build), and node's test
// runner drives the README's flow with every response body validated against
// the document (test:node). Node and npm are required: a missing one fails
// the test rather than skipping it.
func TestTypeScriptClient(t *testing.T) {
	root, err := launcher.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "clients", "typescript")
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm (Node.js 20 or later) is needed for the TypeScript client: %v", err)
	}
	env := append(os.Environ(),
		"TRANSLOAD_BASE_URL="+mesh.RESTURL(),
		"TRANSLOAD_API_KEY="+launcher.DemoAPIKey,
		"TRANSLOAD_CUSTOMER=C0001",
		"npm_config_update_notifier=false",
		"npm_config_fund=false",
		"npm_config_audit=false",
	)
	npmRun := func(timeout time.Duration, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("npm %v: %w", args, err)
		}
		return string(out), nil
	}

	stale, err := dependenciesStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		if out, err := npmRun(5*time.Minute, "ci"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	script := func(name string) func(*testing.T) {
		return func(t *testing.T) {
			if out, err := npmRun(2*time.Minute, "run", name); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
	}
	t.Run("generate-check", script("generate-check"))
	// Without a build, test:node would run a stale or missing dist/.
	if !t.Run("build", script("build")) {
		return
	}
	t.Run("test:node", func(t *testing.T) {
		out, err := npmRun(3*time.Minute, "run", "test:node")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// An exit code of 0 with no test run would pass silently.
		m := nodeTestCount.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no test count in node's output:\n%s", out)
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Fatalf("node ran no test:\n%s", out)
		}
		t.Logf("node --test: %s tests passed", m[1])
	})
}

// nodeTestCount finds the number of tests in node --test's TAP summary.
var nodeTestCount = regexp.MustCompile(`(?m)^# tests (\d+)$`)

// dependenciesStale reports whether clients/typescript needs `npm ci`: npm
// records what it installed in node_modules/.package-lock.json, which is
// missing before the first install and older than package-lock.json or
// package.json after either changed.
func dependenciesStale(dir string) (bool, error) {
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, name := range []string{"package-lock.json", "package.json"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return false, err
		}
		if fi.ModTime().After(installed.ModTime()) {
			return true, nil
		}
	}
	return false, nil
}
