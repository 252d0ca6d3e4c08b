package manifests

import (
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// checkPolicies checks an overlay's NetworkPolicies (when it has any)
// against the documented calls, the ones the containers' variables name
// (neighbour addresses, NATS_URL, REDIS_ADDR, METRICS_TARGETS):
//
//   - every documented call is allowed out of the caller and into the
//     callee;
//   - every ingress the policies allow from a pod of the namespace into a
//     pod running a Transload binary is a documented call (traffic between
//     the pods of one workload aside);
//   - an ingress rule open to every source is only on a port that a
//     non-headless Service publishes (the gateway's public API).
//
// Peers given by namespace or IP block (Prometheus in the monitoring
// namespace, a managed PostgreSQL) are outside these checks.
func checkPolicies(r *Rendered, pods []pod, calls []Call) error {
	if len(r.Policies) == 0 {
		return nil
	}
	byWorkload := map[string]pod{}
	for _, p := range pods {
		byWorkload[p.workload] = p
	}
	var errs []error
	documented := map[Call]bool{}
	for _, c := range calls {
		if documented[Call{From: c.From, To: c.To, Port: c.Port}] {
			continue // one NATS_URL names the same nodes' port thrice
		}
		from, to := byWorkload[c.From], byWorkload[c.To]
		if !allowed(r.Policies, networkingv1.PolicyTypeEgress, from, to, c.Port) {
			errs = append(errs, fmt.Errorf("%s: NetworkPolicies deny %s -> %s:%d (documented by %s of %s): allow it out of the caller",
				r.Overlay, c.From, c.To, c.Port, c.Var, c.From))
		}
		if !allowed(r.Policies, networkingv1.PolicyTypeIngress, from, to, c.Port) {
			errs = append(errs, fmt.Errorf("%s: NetworkPolicies deny %s -> %s:%d (documented by %s of %s): allow it into the callee",
				r.Overlay, c.From, c.To, c.Port, c.Var, c.From))
		}
		documented[Call{From: c.From, To: c.To, Port: c.Port}] = true
	}
	for _, pol := range r.Policies {
		if !slices.Contains(policyTypes(pol), networkingv1.PolicyTypeIngress) {
			continue
		}
		for _, to := range pods {
			if !selects(&pol.Spec.PodSelector, to.labels) || !runsBinary(to) {
				continue
			}
			for _, rule := range pol.Spec.Ingress {
				ports, err := rulePorts(rule.Ports, to)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: NetworkPolicy/%s into %s: %w", r.Overlay, pol.Name, to.workload, err))
					continue
				}
				if len(rule.From) == 0 {
					for _, port := range ports {
						if !r.published(to, port) {
							errs = append(errs, fmt.Errorf("%s: NetworkPolicy/%s lets every source into %s:%d, which no non-headless Service publishes",
								r.Overlay, pol.Name, to.workload, port))
						}
					}
					continue
				}
				for _, peer := range rule.From {
					if peer.PodSelector == nil || peer.NamespaceSelector != nil || peer.IPBlock != nil {
						continue
					}
					for _, from := range pods {
						if from.workload == to.workload || !selects(peer.PodSelector, from.labels) {
							continue
						}
						for _, port := range ports {
							if !documented[Call{From: from.workload, To: to.workload, Port: port}] {
								errs = append(errs, fmt.Errorf("%s: NetworkPolicy/%s lets %s into %s:%d, a call no variable of %s documents",
									r.Overlay, pol.Name, from.workload, to.workload, port, from.workload))
							}
						}
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

func runsBinary(p pod) bool {
	return slices.ContainsFunc(p.spec.Containers, func(c corev1.Container) bool { return isTransloadImage(c.Image) })
}

// published reports whether a non-headless Service selecting p targets port.
func (r *Rendered) published(p pod, port int) bool {
	for _, svc := range r.Services {
		if svc.Spec.ClusterIP == corev1.ClusterIPNone || !serviceSelects(svc, p) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			target := int(sp.Port)
			if sp.TargetPort.Type == intstr.String {
				target = p.ports()[sp.TargetPort.StrVal]
			} else if sp.TargetPort.IntValue() != 0 {
				target = sp.TargetPort.IntValue()
			}
			if target == port {
				return true
			}
		}
	}
	return false
}

// rulePorts lists a rule's ports as numbers on the destination pod; a
// rule without ports (every port) is an error: the policies name ports.
func rulePorts(ports []networkingv1.NetworkPolicyPort, to pod) ([]int, error) {
	if len(ports) == 0 {
		return nil, fmt.Errorf("a rule without ports allows every port")
	}
	var out []int
	for _, p := range ports {
		if p.Port == nil {
			return nil, fmt.Errorf("a rule port without a number allows every port")
		}
		if p.Port.Type == intstr.String {
			n, ok := to.ports()[p.Port.StrVal]
			if !ok {
				return nil, fmt.Errorf("no port named %q", p.Port.StrVal)
			}
			out = append(out, n)
			continue
		}
		out = append(out, p.Port.IntValue())
	}
	return out, nil
}

func policyTypes(pol *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(pol.Spec.PolicyTypes) > 0 {
		return pol.Spec.PolicyTypes
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(pol.Spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return types
}

// allowed evaluates the policies for one connection in one direction, as
// Kubernetes does: with no policy of that type selecting the pod on that
// side, everything is allowed; otherwise some rule of one of them must
// match the peer and the port.
func allowed(pols []*networkingv1.NetworkPolicy, dir networkingv1.PolicyType, from, to pod, port int) bool {
	subject, peer := to, from
	if dir == networkingv1.PolicyTypeEgress {
		subject, peer = from, to
	}
	isolated := false
	for _, pol := range pols {
		if !slices.Contains(policyTypes(pol), dir) || !selects(&pol.Spec.PodSelector, subject.labels) {
			continue
		}
		isolated = true
		type rule struct {
			peers []networkingv1.NetworkPolicyPeer
			ports []networkingv1.NetworkPolicyPort
		}
		var rules []rule
		if dir == networkingv1.PolicyTypeIngress {
			for _, r := range pol.Spec.Ingress {
				rules = append(rules, rule{r.From, r.Ports})
			}
		} else {
			for _, r := range pol.Spec.Egress {
				rules = append(rules, rule{r.To, r.Ports})
			}
		}
		for _, r := range rules {
			if peerMatches(r.peers, peer) && portMatches(r.ports, to, port) {
				return true
			}
		}
	}
	return !isolated
}

func peerMatches(peers []networkingv1.NetworkPolicyPeer, p pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		// Same namespace: a pod selector without a namespace selector.
		if peer.PodSelector != nil && peer.NamespaceSelector == nil && peer.IPBlock == nil && selects(peer.PodSelector, p.labels) {
			return true
		}
	}
	return false
}

func portMatches(ports []networkingv1.NetworkPolicyPort, to pod, port int) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if p.Port == nil {
			return true
		}
		n := p.Port.IntValue()
		if p.Port.Type == intstr.String {
			n = to.ports()[p.Port.StrVal]
		}
		if n == port || (p.EndPort != nil && port >= n && port <= int(*p.EndPort)) {
			return true
		}
	}
	return false
}
