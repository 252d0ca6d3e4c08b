package manifests

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// ImageName is the repository name (the last path element) of the image
// the Dockerfile builds, as the manifests name it: a container whose
// image is <registry>/transload[:tag] runs a binary of the image.
const ImageName = "transload"

// Rendered is one overlay rendered and decoded.
type Rendered struct {
	Overlay      string
	Deployments  []*appsv1.Deployment
	StatefulSets []*appsv1.StatefulSet
	Services     []*corev1.Service
	Secrets      []*corev1.Secret
	PDBs         []*policyv1.PodDisruptionBudget
	Claims       []*corev1.PersistentVolumeClaim
	Policies     []*networkingv1.NetworkPolicy
	Objects      int
}

// scheme knows the kinds the overlays may contain; any other kind fails
// the decode.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// Render builds the kustomization in dir (on disk) with the kustomize Go
// API, as `kustomize build dir` does, and decodes every object strictly
// into the Kubernetes API types: an unknown or duplicated field, an
// unknown kind or a value of the wrong type is an error.
func Render(dir string) (*Rendered, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	sch := scheme()
	codec := json.NewSerializerWithOptions(json.DefaultMetaFactory, sch, sch, json.SerializerOptions{Yaml: true, Strict: true})
	out := &Rendered{Overlay: dir}
	var errs []error
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			return nil, err
		}
		id := res.CurId().String()
		obj, _, err := codec.Decode(y, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: strict decode: %w", dir, id, err))
			continue
		}
		out.Objects++
		switch o := obj.(type) {
		case *appsv1.Deployment:
			out.Deployments = append(out.Deployments, o)
		case *appsv1.StatefulSet:
			out.StatefulSets = append(out.StatefulSets, o)
		case *corev1.Service:
			out.Services = append(out.Services, o)
		case *corev1.Secret:
			out.Secrets = append(out.Secrets, o)
		case *policyv1.PodDisruptionBudget:
			out.PDBs = append(out.PDBs, o)
		case *corev1.PersistentVolumeClaim:
			out.Claims = append(out.Claims, o)
		case *networkingv1.NetworkPolicy:
			out.Policies = append(out.Policies, o)
		}
	}
	return out, errors.Join(errs...)
}

// pod is the pod template of a workload.
type pod struct {
	workload string // Kind/name
	name     string // metadata.name of the workload
	kind     string
	replicas int32
	labels   map[string]string
	spec     corev1.PodSpec
	annot    map[string]string
	// serviceName of a StatefulSet (its pods are <name>-<i>.<serviceName>).
	serviceName string
	strategy    appsv1.DeploymentStrategyType
}

func (p pod) ports() map[string]int {
	ports := map[string]int{}
	for _, c := range p.spec.Containers {
		for _, cp := range c.Ports {
			ports[cp.Name] = int(cp.ContainerPort)
		}
	}
	return ports
}

func (p pod) hasPort(n int) bool { return slices.Contains(mapValues(p.ports()), n) }

func (r *Rendered) pods() []pod {
	var pods []pod
	for _, d := range r.Deployments {
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		pods = append(pods, pod{workload: "Deployment/" + d.Name, name: d.Name, kind: "Deployment", replicas: replicas,
			labels: d.Spec.Template.Labels, spec: d.Spec.Template.Spec, annot: d.Spec.Template.Annotations, strategy: d.Spec.Strategy.Type})
	}
	for _, s := range r.StatefulSets {
		replicas := int32(1)
		if s.Spec.Replicas != nil {
			replicas = *s.Spec.Replicas
		}
		pods = append(pods, pod{workload: "StatefulSet/" + s.Name, name: s.Name, kind: "StatefulSet", replicas: replicas,
			labels: s.Spec.Template.Labels, spec: s.Spec.Template.Spec, annot: s.Spec.Template.Annotations, serviceName: s.Spec.ServiceName})
	}
	return pods
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(l))
}

func serviceSelects(svc *corev1.Service, p pod) bool {
	return len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(p.labels))
}

// isTransloadImage reports whether image is the Dockerfile's image.
func isTransloadImage(image string) bool {
	name := image
	if i := strings.LastIndex(name, "@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name[strings.LastIndex(name, "/")+1:] == ImageName
}

// resolver resolves a Service name, a StatefulSet pod's name
// (<set>-<i>.<service>) or either with .<namespace>[.svc.cluster.local].
func (r *Rendered) resolver(pods []pod) Resolver {
	binaryOf := func(p pod) string {
		for _, c := range p.spec.Containers {
			if isTransloadImage(c.Image) && len(c.Command) > 0 {
				return strings.TrimPrefix(c.Command[0], BinDir+"/")
			}
		}
		return ""
	}
	return func(host string) (Target, bool) {
		host = strings.TrimSuffix(host, ".svc.cluster.local")
		parts := strings.Split(host, ".")
		var svcName, podName string
		switch {
		case len(parts) == 1:
			svcName = parts[0]
		default:
			// <pod>.<service>[.<namespace>] or <service>.<namespace>.
			if svc := r.service(parts[1]); svc != nil && svc.Spec.ClusterIP == corev1.ClusterIPNone {
				podName, svcName = parts[0], parts[1]
			} else {
				svcName = parts[0]
			}
		}
		svc := r.service(svcName)
		if svc == nil {
			return Target{}, false
		}
		for _, p := range pods {
			if !serviceSelects(svc, p) {
				continue
			}
			if podName != "" {
				i, err := strconv.Atoi(strings.TrimPrefix(podName, p.name+"-"))
				if p.kind != "StatefulSet" || p.serviceName != svcName || err != nil || i < 0 || i >= int(p.replicas) {
					continue
				}
			}
			t := Target{Workload: p.workload, Binary: binaryOf(p)}
			for _, sp := range svc.Spec.Ports {
				t.Ports = append(t.Ports, int(sp.Port))
			}
			return t, true
		}
		return Target{}, false
	}
}

func (r *Rendered) service(name string) *corev1.Service {
	for _, s := range r.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// CheckRendered checks an overlay's objects: every container of the image
// against its binary (CheckContainer), Services against the pods they
// select, probes on the admin port, scrape annotations, SQLite's single
// writer, PodDisruptionBudgets, and the NetworkPolicies against the calls
// the containers' variables document.
func CheckRendered(r *Rendered, repo *Repo, built []string) error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{r.Overlay}, args...)...))
	}
	pods := r.pods()
	resolve := r.resolver(pods)
	var calls []Call
	running := 0
	for _, p := range pods {
		for _, c := range p.spec.Containers {
			if !isTransloadImage(c.Image) {
				continue
			}
			running++
			where := fmt.Sprintf("%s: %s container %s", r.Overlay, p.workload, c.Name)
			cc := Container{Where: where, Workload: p.workload, Command: c.Command,
				Env: map[string]string{}, FromRef: map[string]bool{}, Ports: map[string]int{}}
			for _, e := range c.Env {
				if e.ValueFrom != nil {
					cc.FromRef[e.Name] = true
				} else {
					cc.Env[e.Name] = e.Value
				}
			}
			for _, cp := range c.Ports {
				cc.Ports[cp.Name] = int(cp.ContainerPort)
			}
			cs, err := CheckContainer(cc, repo, built, resolve)
			calls = append(calls, cs...)
			errs = append(errs, err)
			if len(c.Command) == 0 {
				continue
			}
			b, ok := repo.Binaries[strings.TrimPrefix(c.Command[0], BinDir+"/")]
			if !ok {
				continue
			}
			errs = append(errs, checkProbesAndScrape(where, p, c, b))
			if dsn := cc.Env["DATABASE_URL"]; strings.HasPrefix(dsn, "sqlite:") || (b.Reads("DATABASE_URL") && !cc.FromRef["DATABASE_URL"] && dsn == "") {
				if p.replicas != 1 {
					fail("%s: %d replicas on SQLite (%s): one writer per database file, so one replica", p.workload, p.replicas, dsnOr(dsn))
				}
				if p.kind == "Deployment" && p.strategy != appsv1.RecreateDeploymentStrategyType && p.replicas == 1 && strings.HasPrefix(dsn, "sqlite:") {
					fail("%s: SQLite on a volume needs strategy Recreate (a rolling update starts a second writer)", p.workload)
				}
			}
		}
	}
	if running == 0 {
		fail("no container runs the %s image", ImageName)
	}
	errs = append(errs, r.checkServices(pods), r.checkPDBs(pods), r.checkSecrets(pods), r.checkClaims(pods), checkPolicies(r, pods, calls))
	return errors.Join(errs...)
}

func dsnOr(dsn string) string {
	if dsn == "" {
		return "the default sqlite://<name>.db"
	}
	return dsn
}

// checkProbesAndScrape: readiness on /readyz and liveness on /healthz of
// the admin port; Prometheus scrapes the admin port's /metrics.
func checkProbesAndScrape(where string, p pod, c corev1.Container, b Binary) error {
	var errs []error
	ports := map[string]int{}
	for _, cp := range c.Ports {
		ports[cp.Name] = int(cp.ContainerPort)
	}
	probe := func(kind string, pr *corev1.Probe, path string) {
		if pr == nil || pr.HTTPGet == nil {
			errs = append(errs, fmt.Errorf("%s: no HTTP %s probe (GET %s on the admin port %d)", where, kind, path, b.AdminPort))
			return
		}
		port := pr.HTTPGet.Port.IntValue()
		if pr.HTTPGet.Port.Type == intstr.String {
			port = ports[pr.HTTPGet.Port.StrVal]
		}
		if port != b.AdminPort || pr.HTTPGet.Path != path {
			errs = append(errs, fmt.Errorf("%s: %s probe GET %s on port %v; want %s on the admin port %d",
				where, kind, pr.HTTPGet.Path, pr.HTTPGet.Port.String(), path, b.AdminPort))
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	if p.annot["prometheus.io/scrape"] != "true" {
		errs = append(errs, fmt.Errorf("%s: pod template lacks prometheus.io/scrape: \"true\"", where))
	} else if p.annot["prometheus.io/port"] != strconv.Itoa(b.AdminPort) || p.annot["prometheus.io/path"] != "/metrics" {
		errs = append(errs, fmt.Errorf("%s: scrape annotations port %q path %q; want %d and /metrics",
			where, p.annot["prometheus.io/port"], p.annot["prometheus.io/path"], b.AdminPort))
	}
	return errors.Join(errs...)
}

// checkServices: each Service selects pods, and each port reaches a
// declared container port; a headless Service's port is the container
// port (clients dial the pods' addresses directly).
func (r *Rendered) checkServices(pods []pod) error {
	var errs []error
	for _, svc := range r.Services {
		var selected []pod
		for _, p := range pods {
			if serviceSelects(svc, p) {
				selected = append(selected, p)
			}
		}
		if len(selected) == 0 {
			errs = append(errs, fmt.Errorf("%s: Service/%s selects no pods", r.Overlay, svc.Name))
			continue
		}
		for _, sp := range svc.Spec.Ports {
			for _, p := range selected {
				target := int(sp.Port)
				switch {
				case sp.TargetPort.Type == intstr.String:
					n, ok := p.ports()[sp.TargetPort.StrVal]
					if !ok {
						errs = append(errs, fmt.Errorf("%s: Service/%s port %s: %s has no port named %q", r.Overlay, svc.Name, sp.Name, p.workload, sp.TargetPort.StrVal))
						continue
					}
					target = n
				case sp.TargetPort.IntValue() != 0:
					target = sp.TargetPort.IntValue()
				}
				if !p.hasPort(target) {
					errs = append(errs, fmt.Errorf("%s: Service/%s port %s: %s declares no container port %d", r.Overlay, svc.Name, sp.Name, p.workload, target))
				}
				if svc.Spec.ClusterIP == corev1.ClusterIPNone && target != int(sp.Port) {
					errs = append(errs, fmt.Errorf("%s: headless Service/%s port %d targets %d: clients dial the pods on the Service's port", r.Overlay, svc.Name, sp.Port, target))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// checkPDBs: every workload with more than one replica has a
// PodDisruptionBudget (only where the overlay has any), and none blocks
// every eviction of a single-replica workload.
func (r *Rendered) checkPDBs(pods []pod) error {
	if len(r.PDBs) == 0 {
		return nil
	}
	var errs []error
	for _, p := range pods {
		var pdbs []*policyv1.PodDisruptionBudget
		for _, pdb := range r.PDBs {
			if selects(pdb.Spec.Selector, p.labels) {
				pdbs = append(pdbs, pdb)
			}
		}
		if p.replicas > 1 && len(pdbs) == 0 {
			errs = append(errs, fmt.Errorf("%s: %s has %d replicas and no PodDisruptionBudget", r.Overlay, p.workload, p.replicas))
		}
		for _, pdb := range pdbs {
			if pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.IntValue() >= int(p.replicas) {
				errs = append(errs, fmt.Errorf("%s: PodDisruptionBudget/%s keeps %s available of %d replicas: no node could be drained",
					r.Overlay, pdb.Name, pdb.Spec.MinAvailable.String(), p.replicas))
			}
		}
	}
	for _, pdb := range r.PDBs {
		if !slices.ContainsFunc(pods, func(p pod) bool { return selects(pdb.Spec.Selector, p.labels) }) {
			errs = append(errs, fmt.Errorf("%s: PodDisruptionBudget/%s selects no pods", r.Overlay, pdb.Name))
		}
	}
	return errors.Join(errs...)
}

// checkClaims: every volume claim a pod template names is rendered (a
// pod whose claim does not exist never starts).
func (r *Rendered) checkClaims(pods []pod) error {
	var errs []error
	for _, p := range pods {
		for _, v := range p.spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			if !slices.ContainsFunc(r.Claims, func(c *corev1.PersistentVolumeClaim) bool { return c.Name == v.PersistentVolumeClaim.ClaimName }) {
				errs = append(errs, fmt.Errorf("%s: %s volume %s: no PersistentVolumeClaim %s", r.Overlay, p.workload, v.Name, v.PersistentVolumeClaim.ClaimName))
			}
		}
	}
	return errors.Join(errs...)
}

// checkSecrets: a Secret reference to a Secret the overlay renders names
// one of its keys (Secrets the overlay does not render are the
// operator's, documented in deploy/kubernetes/README.md).
func (r *Rendered) checkSecrets(pods []pod) error {
	var errs []error
	for _, p := range pods {
		for _, c := range p.spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				for _, s := range r.Secrets {
					if s.Name != ref.Name {
						continue
					}
					_, inData := s.Data[ref.Key]
					_, inString := s.StringData[ref.Key]
					if !inData && !inString && (ref.Optional == nil || !*ref.Optional) {
						errs = append(errs, fmt.Errorf("%s: %s %s: Secret/%s has no key %q", r.Overlay, p.workload, e.Name, ref.Name, ref.Key))
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// devOnly are the variables production must not turn on: gRPC
// reflection and pprof describe the binary to whoever reaches a port,
// local webhook targets undo notify's SSRF policy, and MESH_PLAINTEXT
// drops the mesh's mutual TLS.
var devOnly = []string{"GRPC_REFLECTION", "PPROF_ENABLED", "WEBHOOK_ALLOW_LOCAL_TARGETS", "MESH_PLAINTEXT"}

// CheckProduction checks what only the prod overlay promises: every
// binary with a database takes DATABASE_URL from a Secret (PostgreSQL;
// never a DSN with its password in the manifest, never SQLite), every
// mesh member speaks mutual TLS from certificates mounted from a Secret
// at its MESH_TLS_DIR, and no development switch is on.
func CheckProduction(r *Rendered, repo *Repo) error {
	var errs []error
	for _, p := range r.pods() {
		for _, c := range p.spec.Containers {
			if !isTransloadImage(c.Image) || len(c.Command) == 0 {
				continue
			}
			b := repo.Binaries[strings.TrimPrefix(c.Command[0], BinDir+"/")]
			fromSecret := false
			for _, e := range c.Env {
				if e.Name == "DATABASE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					fromSecret = true
				}
				if slices.Contains(devOnly, e.Name) && e.ValueFrom == nil {
					if on, err := strconv.ParseBool(e.Value); err != nil || on {
						errs = append(errs, fmt.Errorf("%s: %s sets %s=%q: a development switch", r.Overlay, p.workload, e.Name, e.Value))
					}
				}
			}
			if b.Reads("DATABASE_URL") && !fromSecret {
				errs = append(errs, fmt.Errorf("%s: %s: DATABASE_URL must come from a Secret (secretKeyRef)", r.Overlay, p.workload))
			}
			if b.Reads("MESH_TLS_DIR") {
				if err := meshFromSecret(p.spec, c); err != nil {
					errs = append(errs, fmt.Errorf("%s: %s: %w", r.Overlay, p.workload, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// meshFromSecret checks that c sets MESH_TLS_DIR to a folder mounted from
// a Secret volume of spec (the mesh certificates, rotated by updating the
// Secret: no subPath, which would pin the first version).
func meshFromSecret(spec corev1.PodSpec, c corev1.Container) error {
	dir := ""
	for _, e := range c.Env {
		if e.Name == "MESH_TLS_DIR" && e.ValueFrom == nil {
			dir = e.Value
		}
	}
	if dir == "" {
		return errors.New("MESH_TLS_DIR is not set: internal gRPC must be mutual TLS")
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.Secret != nil && m.SubPath == "" {
				return nil
			}
		}
	}
	return fmt.Errorf("MESH_TLS_DIR=%s is not a Secret volume mounted whole (no subPath)", dir)
}
