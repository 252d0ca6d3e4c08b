package grpcapi

import (
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/ops/internal/desk"

	// The event payloads a dead letter may carry, registered in
	// protoregistry.GlobalTypes so GetDeadLetter can render them.
	_ "github.com/transload/transload/gen/transload/catalog/v1"
	_ "github.com/transload/transload/gen/transload/fulfillment/v1"
	_ "github.com/transload/transload/gen/transload/inventory/v1"
	_ "github.com/transload/transload/gen/transload/order/v1"
)

// The filters of the three lists, as the proto documents them: strings
// and enums with = and !=, times with <, <=, > and >=.
var (
	textOps = []aip.Op{aip.OpEq, aip.OpNe}
	timeOps = []aip.Op{aip.OpLt, aip.OpLe, aip.OpGt, aip.OpGe}

	exceptionSchema = aip.Schema{
		{Name: "state", Kind: aip.KindEnum, Ops: textOps, Enum: opsv1.Exception_State_value, EnumPrefix: "STATE_"},
		{Name: "kind", Kind: aip.KindEnum, Ops: textOps, Enum: opsv1.Exception_Kind_value, EnumPrefix: "KIND_"},
		{Name: "severity", Kind: aip.KindEnum, Ops: textOps, Enum: opsv1.Exception_Severity_value, EnumPrefix: "SEVERITY_"},
		{Name: "domain", Kind: aip.KindEnum, Ops: textOps, Enum: opsv1.Exception_Domain_value, EnumPrefix: "DOMAIN_"},
		{Name: "source_service", Ops: textOps},
		{Name: "resource", Ops: textOps},
		{Name: "aggregate_type", Ops: textOps},
		{Name: "aggregate_id", Ops: textOps},
		{Name: "correlation_id", Ops: textOps},
		{Name: "create_time", Kind: aip.KindTime, Ops: timeOps},
		{Name: "last_occur_time", Kind: aip.KindTime, Ops: timeOps},
	}
	deadLetterSchema = aip.Schema{
		{Name: "consumer", Ops: textOps},
		{Name: "subject", Ops: textOps},
		{Name: "event_id", Ops: textOps},
		{Name: "aggregate_type", Ops: textOps},
		{Name: "aggregate_id", Ops: textOps},
		{Name: "correlation_id", Ops: textOps},
		{Name: "state", Kind: aip.KindEnum, Ops: textOps, Enum: opsv1.DeadLetter_State_value, EnumPrefix: "STATE_"},
		{Name: "dead_letter_time", Kind: aip.KindTime, Ops: timeOps},
	}
	auditSchema = aip.Schema{
		{Name: "target", Ops: textOps},
		{Name: "action", Ops: textOps},
		{Name: "service", Ops: textOps},
		{Name: "correlation_id", Ops: textOps},
		{Name: "actor.kind", Ops: textOps},
		{Name: "actor.id", Ops: textOps},
		{Name: "create_time", Kind: aip.KindTime, Ops: timeOps},
	}
)

// conds turns a parsed filter into the desk's list conditions.
func conds(f aip.Filter) []desk.Cond {
	out := make([]desk.Cond, 0, len(f.Terms))
	for _, t := range f.Terms {
		c := desk.Cond{Field: t.Field, Op: desk.Op(t.Op)}
		switch t.Value.Kind {
		case aip.KindEnum:
			c.Value = t.Value.Enum
		case aip.KindTime:
			c.Value = t.Value.Time
		case aip.KindString, aip.KindInt, aip.KindBool:
			// The schemas declare no integer or bool field.
			c.Value = t.Value.Text
		}
		out = append(out, c)
	}
	return out
}

// exceptionOrder reads ListExceptions.order_by (the proto restricts it to
// these values).
func exceptionOrder(orderBy string) desk.ExceptionOrder {
	switch orderBy {
	case "create_time":
		return desk.ByCreateAsc
	case "update_time desc":
		return desk.ByUpdateDesc
	case "severity desc":
		return desk.BySeverityDesc
	}
	return desk.ByCreateDesc
}

// exceptionKey is the keyset of a listed exception in order o: what
// DecodePageToken reads back into an ExceptionQuery.
func exceptionKey(o desk.ExceptionOrder) func(*desk.Exception) []aip.Key {
	return func(e *desk.Exception) []aip.Key {
		at := e.CreateTime
		if o == desk.ByUpdateDesc {
			at = e.UpdateTime
		}
		if o == desk.BySeverityDesc {
			return []aip.Key{aip.KeyOf(int32(e.Severity)), aip.KeyOf(at), aip.KeyOf(e.ID)}
		}
		return []aip.Key{aip.KeyOf(at), aip.KeyOf(e.ID)}
	}
}

func deadLetterKey(d *desk.DeadLetter) []aip.Key {
	return []aip.Key{aip.KeyOf(d.DeadLetterTime), aip.KeyOf(int64(d.Seq))}
}

func auditKey(r *desk.AuditRecord) []aip.Key {
	return []aip.Key{aip.KeyOf(r.CreateTime), aip.KeyOf(r.ID)}
}

// idOf returns the id in "collection/{id}"; the shape is enforced by
// protovalidate.
func idOf(name, collection string) string { return strings.TrimPrefix(name, collection+"/") }

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func actorToProto(a desk.Actor) *commonv1.AuditActor {
	if a.IsZero() {
		return nil
	}
	return a.Proto()
}

// structOf renders a JSON object as a Struct; nil stays nil, and an
// object Struct cannot hold (only a corrupt row has one) is left out
// rather than failing the read.
func structOf(m map[string]any) *structpb.Struct {
	if m == nil {
		return nil
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil
	}
	return s
}

// exceptionToProto renders e; history only when withHistory (GetException).
func exceptionToProto(e *desk.Exception, withHistory bool) *opsv1.Exception {
	out := &opsv1.Exception{
		Name: e.Name(), Kind: opsv1.Exception_Kind(e.Kind), Severity: opsv1.Exception_Severity(e.Severity),
		SourceService: e.SourceService, AggregateType: e.AggregateType, AggregateId: e.AggregateID,
		Message: e.Message, State: opsv1.Exception_State(e.State), CorrelationId: e.CorrelationID,
		Details: structOf(e.Details), OccurrenceCount: e.OccurrenceCount,
		Acknowledger: actorToProto(e.Acknowledger), Resolver: actorToProto(e.Resolver), ResolutionNote: e.ResolutionNote,
		CreateTime: ts(e.CreateTime), UpdateTime: ts(e.UpdateTime), ResolveTime: ts(e.ResolveTime),
		Domain: opsv1.Exception_Domain(e.Domain), Resource: e.Resource, LastOccurTime: ts(e.LastOccurTime),
	}
	for _, a := range e.AllowedActions() {
		out.AllowedActions = append(out.AllowedActions, opsv1.Exception_Action(a))
	}
	if withHistory {
		for _, h := range e.History {
			out.History = append(out.History, &opsv1.ExceptionHistoryEntry{
				Action: h.Action, Actor: actorToProto(h.Actor), Note: h.Note, Outcome: h.Outcome, CreateTime: ts(h.CreateTime),
			})
		}
	}
	return out
}

// deadLetterToProto renders d; payload_json when d carries its payload
// and its type is registered.
func deadLetterToProto(d *desk.DeadLetter) *opsv1.DeadLetter {
	return &opsv1.DeadLetter{
		Name: d.Name(), Consumer: d.Consumer, Subject: d.Subject, EventId: d.EventID,
		AggregateType: d.AggregateType, AggregateId: d.AggregateID, AggregateSequence: d.AggregateSequence,
		CorrelationId: d.CorrelationID, Error: d.Error, DeliveryCount: d.DeliveryCount,
		PublishTime: ts(d.PublishTime), DeadLetterTime: ts(d.DeadLetterTime), PayloadType: d.PayloadType,
		PayloadJson: payloadJSON(d.PayloadType, d.Payload), PayloadSizeBytes: d.PayloadSize,
		State: opsv1.DeadLetter_State(d.State), ReplayCount: d.ReplayCount, LastReplayTime: ts(d.LastReplayTime),
	}
}

// payloadJSON renders an encoded payload of type typ as protobuf JSON, or
// "" when the type is unknown or the bytes do not decode as it.
func payloadJSON(typ string, payload []byte) string {
	if payload == nil || typ == "" {
		return ""
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typ))
	if err != nil {
		return ""
	}
	m := mt.New().Interface()
	if err := proto.Unmarshal(payload, m); err != nil {
		return ""
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

func auditToProto(r *desk.AuditRecord) *opsv1.AuditRecord {
	return &opsv1.AuditRecord{
		Name: r.Name(), Actor: actorToProto(r.Actor), Action: r.Action, Target: r.Target, Service: r.Service,
		CorrelationId: r.CorrelationID, Before: structOf(r.Before), After: structOf(r.After), CreateTime: ts(r.CreateTime),
	}
}

func replayToProto(r *desk.ReplayReport) *opsv1.ReplayDeadLettersResponse {
	out := &opsv1.ReplayDeadLettersResponse{
		DryRun: r.DryRun, MatchedCount: r.Matched, ReplayedCount: r.Replayed, SkippedCount: r.Skipped,
		FailedCount: r.Failed, Truncated: r.Truncated,
	}
	for _, res := range r.Results {
		out.Results = append(out.Results, &opsv1.ReplayResult{
			DeadLetter: res.DeadLetter, EventId: res.EventID, Consumer: res.Consumer, Subject: res.Subject,
			Outcome: opsv1.ReplayResult_Outcome(res.Outcome), Detail: res.Detail,
		})
	}
	return out
}
