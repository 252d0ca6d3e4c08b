// Package storefront is the end-to-end suite: it builds the binaries, starts
// the whole mesh as separate processes through the same launcher `make run`
// uses, and drives it over REST as a storefront would.
package storefront

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// mesh is the running mesh every test in this package drives.
var mesh *launcher.Mesh

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	work, err := os.MkdirTemp("", "transload-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(work)
		}
	}()
	bin := filepath.Join(work, "bin")
	if err := buildBinaries(root, bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mesh, err = launcher.Start(ctx, launcher.Config{
		BinDir:    bin,
		DataDir:   filepath.Join(work, "data"),
		FreePorts: true,
		Log:       os.Stderr,
		ExtraEnv: map[string][]string{
			// Shipments move one WMS step every 150ms so an order is
			// delivered within seconds.
			launcher.WMSSim: {"WMSSIM_STEP=150ms"},
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start mesh:", err)
		keep = true
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", filepath.Join(work, "data", "logs"))
		return 1
	}
	code := m.Run()
	mesh.Stop()
	if code != 0 {
		keep = true
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", filepath.Join(work, "data", "logs"))
	}
	return code
}

// buildBinaries builds every cmd/ of every workspace module into dir, so the
// suite always runs the code under test.
func buildBinaries(root, dir string) error {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("go list -m: %w", err)
	}
	for _, mod := range strings.Fields(string(out)) {
		if _, err := os.Stat(filepath.Join(mod, "cmd")); err != nil {
			continue
		}
		cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/...")
		cmd.Dir = mod
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", mod, err, b)
		}
	}
	return nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.work not found")
		}
		dir = parent
	}
}
