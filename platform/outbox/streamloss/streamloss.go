// Package streamloss raises the ops-desk exception for events the outbox
// reconciler found missing from their stream and republished (see
// outbox.ReconcileConfig). It is a package of its own because opsevents
// builds on package outbox.
package streamloss

import (
	"fmt"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
)

// maxListed bounds the event ids listed in an exception's details.
const maxListed = 20

// Exception returns the outbox.ReconcileConfig.Exception of service: one
// exception per stream and reconciler pass, resource "streams/<name>",
// raised as a KIND_EVENT_STREAM_LOSS exception (a broker incident, not a
// dead letter: there is no dead letter to replay, the events are already
// republished), with details "stream", "service", "republished" (the count) and
// "eventIds" (the first 20).
func Exception(service string, domain opsv1.Exception_Domain) func(outbox.Loss) (outbox.Event, error) {
	return func(l outbox.Loss) (outbox.Event, error) {
		ids := make([]any, 0, min(len(l.Events), maxListed))
		for _, e := range l.Events[:min(len(l.Events), maxListed)] {
			ids = append(ids, e.EventID)
		}
		return opsevents.Raise(service, opsevents.Exception{
			Kind:     opsv1.Exception_KIND_EVENT_STREAM_LOSS,
			Severity: opsv1.Exception_SEVERITY_HIGH,
			Domain:   domain,
			Resource: "streams/" + l.Stream,
			Message: fmt.Sprintf("stream %s lost %d published %s event(s) before consumers read them; republished",
				l.Stream, len(l.Events), service),
			Details: map[string]any{
				"stream": l.Stream, "service": service, "republished": len(l.Events), "eventIds": ids,
			},
			OccurredAt: l.At,
		})
	}
}

// Reconcile is the relay option that runs the outbox reconciler of
// service with the environment's interval and lookback
// (outbox.WithReconcileFromEnv) and raises [Exception] in the service's
// domain (fulfillment for inventory, fulfillment and notify; commerce
// for the others).
func Reconcile(service string) outbox.RelayOption {
	domain := opsv1.Exception_DOMAIN_COMMERCE
	switch service {
	case "inventory", "fulfillment", "notify":
		domain = opsv1.Exception_DOMAIN_FULFILLMENT
	}
	return outbox.WithReconcileFromEnv(service, Exception(service, domain))
}
