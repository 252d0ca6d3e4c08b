package manifests

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
)

// BinDir is where the Dockerfile's runtime stage puts the binaries: a
// container names its binary as BinDir + "/" + name.
const BinDir = "/usr/local/bin"

// Dockerfile is what the checks read from the Dockerfile.
type Dockerfile struct {
	// Packages are the ./... package folders of its `go build` lines, in
	// order (relative to the repository root, without "./").
	Packages []string
	// CopiesToBinDir reports whether a stage copies the build output into
	// BinDir.
	CopiesToBinDir bool
}

// Binaries returns the names of the binaries the Dockerfile builds (go
// build -o <dir>/ names each after its package folder).
func (d Dockerfile) Binaries() []string {
	var names []string
	for _, p := range d.Packages {
		names = append(names, path.Base(p))
	}
	return names
}

// ParseDockerfile reads the instructions of a Dockerfile (comments
// dropped, continuation lines joined) and collects the packages of every
// RUN instruction that runs `go build`.
func ParseDockerfile(file string) (Dockerfile, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Dockerfile{}, err
	}
	var d Dockerfile
	for _, ins := range instructions(string(b)) {
		keyword, rest, _ := strings.Cut(ins, " ")
		switch strings.ToUpper(keyword) {
		case "RUN":
			fields := strings.Fields(rest)
			for i := 0; i+1 < len(fields); i++ {
				if fields[i] != "go" || fields[i+1] != "build" {
					continue
				}
				for _, f := range fields[i+2:] {
					if f == "&&" || f == ";" || f == "|" {
						break
					}
					if p, ok := strings.CutPrefix(f, "./"); ok {
						d.Packages = append(d.Packages, strings.TrimSuffix(p, "/"))
					}
				}
			}
		case "COPY":
			fields := strings.Fields(rest)
			if len(fields) >= 2 && strings.TrimSuffix(fields[len(fields)-1], "/") == BinDir &&
				slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, "--from=") }) {
				d.CopiesToBinDir = true
			}
		}
	}
	if len(d.Packages) == 0 {
		return d, fmt.Errorf("%s: no `go build ./...` in a RUN instruction", file)
	}
	return d, nil
}

// instructions splits a Dockerfile into instructions: comment lines
// dropped, lines ending in a backslash joined with the next.
func instructions(text string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") || (t == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(t, `\`); ok {
			cur.WriteString(s)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(t)
		if cur.Len() > 0 {
			out = append(out, strings.TrimSpace(cur.String()))
		}
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

// CheckDockerfile checks that the Dockerfile builds exactly the repo's
// binaries, each from its own cmd folder, into the image's BinDir.
func CheckDockerfile(d Dockerfile, r *Repo) error {
	var errs []error
	built := map[string]string{}
	for _, p := range d.Packages {
		name := path.Base(p)
		b, ok := r.Binaries[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("Dockerfile builds ./%s, which is not a cmd/ folder of a go.work module", p))
		case b.Dir != p:
			errs = append(errs, fmt.Errorf("Dockerfile builds %s from ./%s; its cmd folder is ./%s", name, p, b.Dir))
		}
		if prev, dup := built[name]; dup {
			errs = append(errs, fmt.Errorf("Dockerfile builds two binaries named %s (./%s and ./%s)", name, prev, p))
		}
		built[name] = p
	}
	for _, name := range r.BinaryNames() {
		if _, ok := built[name]; !ok {
			errs = append(errs, fmt.Errorf("Dockerfile does not build %s (./%s): add it to the go build line", name, r.Binaries[name].Dir))
		}
	}
	if !d.CopiesToBinDir {
		errs = append(errs, fmt.Errorf("Dockerfile: no COPY --from=... into %s, where compose and Kubernetes run the binaries from", BinDir))
	}
	return errors.Join(errs...)
}
