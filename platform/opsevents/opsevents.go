// Package opsevents is how a service tells operators about itself: it
// raises exceptions for the exception desk and records audit entries for
// the audit trail, each as an outbox event written in the same transaction
// as the change that caused it, so neither is lost nor told about a change
// that rolled back. The ops service projects both (transload.ops.v1
// ExceptionRaisedEvent and AuditRecordedEvent on the eventstreams.Ops
// stream).
//
// It also carries who acts across a call: the gateway names the
// authenticated caller in the ActorHeader metadata, and services read it
// with ActorFromIncoming.
//
//	ev, err := opsevents.Raise("order", opsevents.Exception{
//		Kind: opsv1.Exception_KIND_ERP_REJECTION, Severity: opsv1.Exception_SEVERITY_MEDIUM,
//		Domain: opsv1.Exception_DOMAIN_ERP, Resource: "orders/" + id,
//		AggregateType: "order", AggregateID: id,
//		Message: "ERP rejected order: customer blocked",
//		Details: map[string]any{"order": "orders/" + id, "erpCode": code},
//	})
//	// then outbox.WriteBatch(ctx, tx, dialect, []outbox.Event{orderEvent, ev})
package opsevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
)

// Outbox aggregate types of the operations events. They are separate from
// the domain aggregates the events describe, so raising an exception or
// recording an audit entry never takes a sequence number of the order or
// stock level it is about.
const (
	AggregateException = "ops_exception"
	AggregateAudit     = "audit"
)

// ActorHeader is the request metadata key naming who acts, "kind:id", e.g.
// "api_key:key-1a2b3c4d5e6f" (a storefront key), "operator:key-…" (an
// operator key) or "service:fulfillment". The gateway sets it from the
// authenticated principal; services between them set their own name.
const ActorHeader = "x-transload-actor"

// Actor kinds.
const (
	ActorAPIKey   = "api_key"
	ActorOperator = "operator"
	ActorService  = "service"
	ActorSystem   = "system"
)

// Actor identifies who caused a change.
type Actor struct {
	// Kind is one of the Actor* kinds.
	Kind string
	// ID is the key id, operator key id or service name.
	ID string
}

// Service returns the actor for a service acting on its own account.
func Service(name string) Actor { return Actor{Kind: ActorService, ID: name} }

// String renders the actor as the ActorHeader value "kind:id".
func (a Actor) String() string { return a.Kind + ":" + a.ID }

// IsZero reports whether a names nobody.
func (a Actor) IsZero() bool { return a == Actor{} }

// Proto returns the contract form.
func (a Actor) Proto() *commonv1.AuditActor {
	return &commonv1.AuditActor{Kind: a.Kind, Id: a.ID}
}

// ParseActor parses an ActorHeader value; ok is false unless it is
// "kind:id" with a non-empty kind.
func ParseActor(v string) (Actor, bool) {
	kind, id, ok := strings.Cut(strings.TrimSpace(v), ":")
	if !ok || kind == "" {
		return Actor{}, false
	}
	return Actor{Kind: kind, ID: id}, true
}

// ActorFromIncoming returns the actor named by the incoming request's
// ActorHeader, or def when it names none (or a malformed one).
func ActorFromIncoming(ctx context.Context, def Actor) Actor {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, v := range md.Get(ActorHeader) {
			if a, ok := ParseActor(v); ok {
				return a
			}
		}
	}
	return def
}

// AppendActor returns ctx with a named as the actor of outgoing calls.
func AppendActor(ctx context.Context, a Actor) context.Context {
	return metadata.AppendToOutgoingContext(ctx, ActorHeader, a.String())
}

// Exception describes a problem for the desk.
type Exception struct {
	// Kind, Severity and Domain classify the problem (all required).
	Kind     opsv1.Exception_Kind
	Severity opsv1.Exception_Severity
	Domain   opsv1.Exception_Domain
	// Resource names the affected resource, e.g. "orders/8f2c" (required);
	// with Kind it is the desk's deduplication key.
	Resource string
	// AggregateType and AggregateID name the affected aggregate.
	AggregateType, AggregateID string
	// Message is one line for people (required).
	Message string
	// Details are the kind's structured details (see opsv1.Exception_Kind);
	// values must be representable in JSON.
	Details map[string]any
	// OccurredAt is when it happened; zero means when the event is written.
	OccurredAt time.Time
	// CorrelationID defaults to the correlation id of the writing context.
	CorrelationID string
}

// ErrInvalid is wrapped by Raise and Record for a missing required field or
// details that cannot be represented.
var ErrInvalid = errors.New("opsevents: invalid")

// Raise returns the outbox event raising e on behalf of producer (the
// service name), to be written in the transaction of the change that
// caused it.
func Raise(producer string, e Exception) (outbox.Event, error) {
	switch {
	case producer == "":
		return outbox.Event{}, fmt.Errorf("%w: exception without a producer", ErrInvalid)
	case e.Kind == opsv1.Exception_KIND_UNSPECIFIED || e.Severity == opsv1.Exception_SEVERITY_UNSPECIFIED ||
		e.Domain == opsv1.Exception_DOMAIN_UNSPECIFIED:
		return outbox.Event{}, fmt.Errorf("%w: exception %q needs a kind, severity and domain", ErrInvalid, e.Resource)
	case e.Resource == "" || e.Message == "":
		return outbox.Event{}, fmt.Errorf("%w: %s exception needs a resource and a message", ErrInvalid, e.Kind)
	}
	details, err := structpb.NewStruct(e.Details)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("%w: %s exception details: %w", ErrInvalid, e.Kind, err)
	}
	if e.Details == nil {
		details = nil
	}
	return outbox.Event{
		AggregateType: AggregateException,
		AggregateID:   e.Resource,
		Subject:       eventstreams.ExceptionRaised,
		Producer:      producer,
		OccurredAt:    e.OccurredAt,
		CorrelationID: e.CorrelationID,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
			return &opsv1.ExceptionRaisedEvent{
				Metadata: md, Kind: e.Kind, Severity: e.Severity, Domain: e.Domain,
				Resource: e.Resource, AggregateType: e.AggregateType, AggregateId: e.AggregateID,
				Message: e.Message, Details: details, OccurTime: md.GetOccurTime(),
			}, nil
		},
	}, nil
}

// Audit describes one change for the audit trail.
type Audit struct {
	// Actor is who made the change (required).
	Actor Actor
	// Action is "<resource type>.<verb>", e.g. "order.create" (required).
	Action string
	// Target names the changed resource, e.g. "orders/8f2c" (required).
	Target string
	// Before and After are the resource before and after the change: a
	// proto.Message (rendered as protobuf JSON), a map or any value
	// encoding/json renders as an object; nil for a creation (Before) or
	// deletion (After).
	Before, After any
	// OccurredAt is when it happened; zero means when the event is written.
	OccurredAt time.Time
}

// Record returns the outbox event recording a on behalf of service, to be
// written in the transaction of the change.
func Record(service string, a Audit) (outbox.Event, error) {
	switch {
	case service == "":
		return outbox.Event{}, fmt.Errorf("%w: audit record without a service", ErrInvalid)
	case a.Actor.Kind == "" || a.Action == "" || a.Target == "":
		return outbox.Event{}, fmt.Errorf("%w: audit record needs an actor, an action and a target (%q on %q)", ErrInvalid, a.Action, a.Target)
	}
	before, err := toStruct(a.Before)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("%w: %s before: %w", ErrInvalid, a.Action, err)
	}
	after, err := toStruct(a.After)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("%w: %s after: %w", ErrInvalid, a.Action, err)
	}
	return outbox.Event{
		AggregateType: AggregateAudit,
		AggregateID:   a.Target,
		Subject:       eventstreams.AuditRecorded,
		Producer:      service,
		OccurredAt:    a.OccurredAt,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
			return &opsv1.AuditRecordedEvent{
				Metadata: md, Actor: a.Actor.Proto(), Action: a.Action, Target: a.Target,
				Service: service, Before: before, After: after,
			}, nil
		},
	}, nil
}

// toStruct renders v as a JSON object: protobuf JSON for a message,
// encoding/json otherwise. nil stays nil.
//
// A message is converted directly (messageStruct) to the Struct its
// protobuf JSON reads back as; what that does not render itself takes the
// JSON round trip (jsonStruct), so the result is the same either way.
func toStruct(v any) (*structpb.Struct, error) {
	switch m := v.(type) {
	case nil:
		return nil, nil
	case *structpb.Struct:
		return m, nil
	case proto.Message:
		pm := m.ProtoReflect()
		if !pm.IsValid() {
			return nil, nil
		}
		if s, ok := messageStruct(pm); ok {
			return s, nil
		}
		return jsonStruct(protojson.Marshal(m))
	default:
		return jsonStruct(json.Marshal(m))
	}
}

// jsonStruct reads the JSON object raw as a Struct, or returns err.
func jsonStruct(raw []byte, err error) (*structpb.Struct, error) {
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(raw, s); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	return s, nil
}
