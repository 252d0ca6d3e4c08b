// Package manifests checks what an operator deploys against the source
// of the binaries it deploys: the Dockerfile at the repository root, the
// compose file (deploy/compose) and the Kubernetes overlays
// (deploy/kubernetes, rendered with the kustomize Go API and decoded
// strictly into the Kubernetes API types).
//
// What the binaries read is derived from the source, not restated here:
// the binaries are the cmd/ folders of the go.work modules; a binary's
// environment is the env tags of its configuration struct (the Config of
// the <module>/internal/config package its main imports, or a Config
// declared in the main package), walked through embedded and nested
// structs across packages the way platform/config walks them at run
// time; its ports are platform/svcmain's port plan and the defaults of
// its other *_ADDR listen variables. The module sits outside go.work (as
// deploy/observability does) so kustomize's and Kubernetes' dependencies
// stay out of the services' build list; `make manifests-check` runs it.
package manifests

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Binary is one binary `make build` builds: a cmd/<name> folder of a
// go.work module.
type Binary struct {
	// Name is the binary's file name (the cmd folder's name).
	Name string
	// Dir is the main package's folder, relative to the repository root.
	Dir string
	// ConfigDir is the folder of its configuration struct ("" for a
	// binary that reads flags only).
	ConfigDir string
	// Env maps every variable the binary's configuration reads to its
	// default tag ("" when it has none).
	Env map[string]string
	// GRPCPort and AdminPort are the binary's place in the port plan
	// (platform/svcmain); 0 for a binary outside it.
	GRPCPort, AdminPort int
}

// Reads reports whether the binary reads the variable.
func (b Binary) Reads(name string) bool {
	_, ok := b.Env[name]
	return ok
}

// ListenPort returns the port the binary must listen on when the listen
// variable name (GRPC_ADDR, ADMIN_ADDR, HTTP_ADDR, ...) is set: the port
// plan's for GRPC_ADDR and ADMIN_ADDR, the default tag's port for the
// others. ok is false for a variable that is not a listen address.
func (b Binary) ListenPort(name string) (port int, ok bool) {
	switch name {
	case "GRPC_ADDR":
		return b.GRPCPort, b.GRPCPort != 0
	case "ADMIN_ADDR":
		return b.AdminPort, b.AdminPort != 0
	}
	if !isListenVar(name) {
		return 0, false
	}
	_, p, err := net.SplitHostPort(b.Env[name])
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(p)
	return n, err == nil
}

// isListenVar reports whether name is one of the variables the binaries
// listen on (svcmain's GRPC_ADDR and ADMIN_ADDR, the gateway's HTTP_ADDR).
func isListenVar(name string) bool {
	return name == "GRPC_ADDR" || name == "ADMIN_ADDR" || name == "HTTP_ADDR"
}

// Ports returns every port the binary listens on, by listen variable.
func (b Binary) Ports() map[string]int {
	ports := map[string]int{}
	for name := range b.Env {
		if p, ok := b.ListenPort(name); ok {
			ports[name] = p
		}
	}
	return ports
}

// Repo is the source tree the checks read.
type Repo struct {
	// Root is the repository root.
	Root string
	// modules maps module path to folder (relative to Root).
	modules map[string]string
	// Binaries by name.
	Binaries map[string]Binary
}

// LoadRepo reads go.work at root, every module's go.mod, the cmd/
// folders, the port plan and each binary's configuration struct.
func LoadRepo(root string) (*Repo, error) {
	dirs, err := workModules(filepath.Join(root, "go.work"))
	if err != nil {
		return nil, err
	}
	r := &Repo{Root: root, modules: map[string]string{}, Binaries: map[string]Binary{}}
	for _, d := range dirs {
		path, err := modulePath(filepath.Join(root, d, "go.mod"))
		if err != nil {
			return nil, err
		}
		r.modules[path] = d
	}
	plan, err := portPlan(filepath.Join(root, "platform", "svcmain", "config.go"))
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(filepath.Join(root, d, "cmd"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.ToSlash(filepath.Join(d, "cmd", e.Name()))
			main, err := parseDir(filepath.Join(root, dir))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", dir, err)
			}
			if len(main.files) == 0 {
				continue // not a package: `go build ./cmd/...` skips it too
			}
			env, configDir, err := r.binaryEnv(main, dir)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", dir, err)
			}
			if prev, dup := r.Binaries[e.Name()]; dup {
				return nil, fmt.Errorf("two binaries named %s: %s and %s", e.Name(), prev.Dir, dir)
			}
			p := plan[e.Name()]
			r.Binaries[e.Name()] = Binary{Name: e.Name(), Dir: dir, ConfigDir: configDir, Env: env, GRPCPort: p[0], AdminPort: p[1]}
		}
	}
	return r, nil
}

// BinaryNames returns the binaries' names, sorted.
func (r *Repo) BinaryNames() []string { return slices.Sorted(maps.Keys(r.Binaries)) }

// workModules returns the folders of go.work's use directives.
func workModules(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dirs []string
	inUse := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "use (":
			inUse = true
		case inUse && line == ")":
			inUse = false
		case inUse && line != "":
			dirs = append(dirs, filepath.Clean(line))
		case strings.HasPrefix(line, "use "):
			dirs = append(dirs, filepath.Clean(strings.TrimSpace(strings.TrimPrefix(line, "use "))))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s: no use directives", path)
	}
	return dirs, nil
}

func modulePath(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

// portPlan parses svcmain's portPlan literal: name -> {grpc, admin}.
func portPlan(path string) (map[string][2]int, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	plan := map[string][2]int{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if len(vs.Names) != 1 || vs.Names[0].Name != "portPlan" || len(vs.Values) != 1 {
				continue
			}
			lit, ok := vs.Values[0].(*ast.CompositeLit)
			if !ok {
				return nil, fmt.Errorf("%s: portPlan is not a map literal", path)
			}
			for _, elt := range lit.Elts {
				kv := elt.(*ast.KeyValueExpr)
				name, err := strconv.Unquote(kv.Key.(*ast.BasicLit).Value)
				if err != nil {
					return nil, err
				}
				val, ok := kv.Value.(*ast.CompositeLit)
				if !ok || len(val.Elts) < 2 {
					return nil, fmt.Errorf("%s: portPlan[%q] is not {grpc, admin, ...}", path, name)
				}
				var ports [2]int
				for i := range 2 {
					lit, ok := val.Elts[i].(*ast.BasicLit)
					if !ok {
						return nil, fmt.Errorf("%s: portPlan[%q]: port %d is not a literal", path, name, i)
					}
					if ports[i], err = strconv.Atoi(lit.Value); err != nil {
						return nil, err
					}
				}
				plan[name] = ports
			}
		}
	}
	if len(plan) == 0 {
		return nil, fmt.Errorf("%s: no portPlan", path)
	}
	return plan, nil
}

// goPackage is one parsed folder: its files and their imports.
type goPackage struct {
	dir   string
	files []*ast.File
}

func parseDir(dir string) (*goPackage, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	p := &goPackage{dir: dir}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, f)
	}
	return p, nil
}

// imports maps a file's import names to import paths.
func imports(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		m[name] = path
	}
	return m
}

// typeSpec finds the struct type called name in p, with its file.
func (p *goPackage) structType(name string) (*ast.StructType, *ast.File, bool) {
	for _, f := range p.files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if ts.Name.Name != name {
					continue
				}
				st, ok := ts.Type.(*ast.StructType)
				return st, f, ok
			}
		}
	}
	return nil, nil, false
}

// dirOf returns the folder (relative to Root) of a repository import
// path, or false for a path outside the go.work modules.
func (r *Repo) dirOf(importPath string) (string, bool) {
	best := ""
	for mod := range r.modules {
		if (importPath == mod || strings.HasPrefix(importPath, mod+"/")) && len(mod) > len(best) {
			best = mod
		}
	}
	if best == "" {
		return "", false
	}
	return filepath.Join(r.modules[best], strings.TrimPrefix(importPath, best)), true
}

// binaryEnv finds the binary's configuration struct and collects its env
// tags. A binary without one (it reads flags only) reads no variables.
func (r *Repo) binaryEnv(main *goPackage, mainDir string) (env map[string]string, configDir string, err error) {
	env = map[string]string{}
	for _, f := range main.files {
		for _, path := range imports(f) {
			if !strings.HasSuffix(path, "/internal/config") {
				continue
			}
			dir, ok := r.dirOf(path)
			if !ok {
				continue
			}
			pkg, err := parseDir(filepath.Join(r.Root, dir))
			if err != nil {
				return nil, "", err
			}
			if err := r.collect(pkg, "Config", env, 0); err != nil {
				return nil, "", err
			}
			return env, filepath.ToSlash(dir), nil
		}
	}
	if _, _, ok := main.structType("Config"); ok {
		if err := r.collect(main, "Config", env, 0); err != nil {
			return nil, "", err
		}
		return env, mainDir, nil
	}
	return env, "", nil
}

// collect adds the env tags of struct typeName in pkg to env, descending
// into fields without an env tag whose type is a struct of the repository
// (as platform/config's walk does at run time).
func (r *Repo) collect(pkg *goPackage, typeName string, env map[string]string, depth int) error {
	if depth > 10 {
		return fmt.Errorf("%s.%s: struct nesting too deep", pkg.dir, typeName)
	}
	st, file, ok := pkg.structType(typeName)
	if !ok {
		return fmt.Errorf("%s: no struct type %s", pkg.dir, typeName)
	}
	for _, field := range st.Fields.List {
		if field.Tag != nil {
			tagText, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				return err
			}
			tag := reflect.StructTag(tagText)
			if name, ok := tag.Lookup("env"); ok {
				if !exported(field) {
					continue
				}
				env[name] = tag.Get("default")
				continue
			}
		}
		if !exported(field) {
			continue
		}
		switch t := field.Type.(type) {
		case *ast.Ident:
			if _, _, ok := pkg.structType(t.Name); ok {
				if err := r.collect(pkg, t.Name, env, depth+1); err != nil {
					return err
				}
			}
		case *ast.SelectorExpr:
			x, ok := t.X.(*ast.Ident)
			if !ok {
				continue
			}
			dir, ok := r.dirOf(imports(file)[x.Name])
			if !ok {
				continue // a type from outside the repository (time.Duration, ...)
			}
			other, err := parseDir(filepath.Join(r.Root, dir))
			if err != nil {
				return err
			}
			if _, _, ok := other.structType(t.Sel.Name); ok {
				if err := r.collect(other, t.Sel.Name, env, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// exported reports whether the field (named or embedded) is exported.
func exported(f *ast.Field) bool {
	if len(f.Names) > 0 {
		return f.Names[0].IsExported()
	}
	switch t := f.Type.(type) {
	case *ast.Ident:
		return t.IsExported()
	case *ast.SelectorExpr:
		return t.Sel.IsExported()
	case *ast.StarExpr:
		return true
	}
	return false
}
