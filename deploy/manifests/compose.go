package manifests

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// Compose is the part of a compose file the checks read.
type Compose struct {
	Name     string                    `json:"name"`
	Services map[string]ComposeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

// ComposeService is one service of a compose file.
type ComposeService struct {
	Image       string            `json:"image"`
	Build       any               `json:"build"`
	Command     []string          `json:"command"`
	Entrypoint  []string          `json:"entrypoint"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	DependsOn   map[string]any    `json:"depends_on"`
}

// infraPorts are the ports of the third-party images the compose file
// runs, by image repository.
var infraPorts = map[string][]int{"nats": {4222}, "redis": {6379}, "postgres": {5432}}

// ParseCompose decodes a compose file (YAML anchors and merge keys
// resolved) into [Compose]; a service whose command or environment has
// another shape than the checks read (a string command, an environment
// list) is a decode error, so the file keeps one style.
func ParseCompose(file string) (*Compose, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c Compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(c.Services) == 0 {
		return nil, fmt.Errorf("%s: no services", file)
	}
	return &c, nil
}

// composeImage returns the repository name of an image reference with
// compose's ${VAR:-default} interpolation resolved to its default.
func composeImage(image string) string {
	if strings.HasPrefix(image, "${") {
		if _, def, ok := strings.Cut(strings.TrimSuffix(image, "}"), ":-"); ok {
			image = def
		}
	}
	return image
}

// CheckCompose checks the compose file: every service of the image runs a
// binary the Dockerfile builds and sets only what it reads, on its ports
// (CheckContainer); third-party services are ones whose ports the checks
// know; depends_on names services of the file; the image is built by the
// Dockerfile at the repository root.
func CheckCompose(c *Compose, repo *Repo, built []string) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf("compose: "+format, args...)) }
	resolve := func(host string) (Target, bool) {
		s, ok := c.Services[host]
		if !ok {
			return Target{}, false
		}
		if isTransloadImage(composeImage(s.Image)) && len(s.Command) > 0 {
			name := strings.TrimPrefix(s.Command[0], BinDir+"/")
			b := repo.Binaries[name]
			return Target{Workload: host, Binary: name, Ports: mapValues(b.Ports())}, true
		}
		return Target{Workload: host, Ports: infraPorts[repository(composeImage(s.Image))]}, true
	}
	builds := false
	for _, name := range sortedKeys(c.Services, nil) {
		s := c.Services[name]
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				fail("%s depends on %s, which is not a service", name, dep)
			}
		}
		image := composeImage(s.Image)
		if !isTransloadImage(image) {
			if _, ok := infraPorts[repository(image)]; !ok {
				fail("%s runs image %q, neither the Dockerfile's (%s) nor one of %v", name, s.Image, ImageName, sortedKeys(infraPorts, nil))
			}
			continue
		}
		if s.Build != nil {
			builds = true
			if err := checkComposeBuild(s.Build); err != nil {
				fail("%s: %v", name, err)
			}
		}
		if len(s.Entrypoint) > 0 {
			fail("%s: sets entrypoint; name the binary with command", name)
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			// Interpolated values (${VAR}) are the operator's; a literal
			// default in them is checked like a value.
			if strings.HasPrefix(v, "${") {
				v = composeImage(v)
				if strings.HasPrefix(v, "${") {
					v = ""
				}
			}
			env[k] = v
		}
		_, err := CheckContainer(Container{Where: "compose: " + name, Workload: name, Command: s.Command, Env: env}, repo, built, resolve)
		errs = append(errs, err)
	}
	if !builds {
		fail("no service builds the image (build: context ../.., dockerfile Dockerfile)")
	}
	return errors.Join(errs...)
}

func checkComposeBuild(build any) error {
	m, ok := build.(map[string]any)
	if !ok {
		return fmt.Errorf("build is %T; want context and dockerfile", build)
	}
	if m["context"] != "../.." || m["dockerfile"] != "Dockerfile" {
		return fmt.Errorf("build %v: want context ../.. (the repository root) and dockerfile Dockerfile", m)
	}
	return nil
}

// repository returns an image reference's repository name without
// registry, path or tag: "nats:2.12-alpine" -> "nats".
func repository(image string) string {
	name := image
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name[strings.LastIndex(name, "/")+1:]
}
