package streamloss_test

import (
	"strconv"
	"testing"
	"time"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/outbox/streamloss"
)

func TestExceptionDescribesTheLoss(t *testing.T) {
	loss := outbox.Loss{Stream: "TRANSLOAD_ORDER", At: time.Unix(1700000000, 0).UTC()}
	for i := range 25 {
		loss.Events = append(loss.Events, outbox.LostEvent{EventID: "ev-" + strconv.Itoa(i)})
	}
	ev, err := streamloss.Exception("order", opsv1.Exception_DOMAIN_COMMERCE)(loss)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Subject != eventstreams.ExceptionRaised || ev.Producer != "order" || ev.AggregateID != "streams/TRANSLOAD_ORDER" {
		t.Fatalf("event = %+v", ev)
	}
	msg, err := ev.Build(&commonv1.EventMetadata{EventId: "x", Sequence: 1})
	if err != nil {
		t.Fatal(err)
	}
	raised := msg.(*opsv1.ExceptionRaisedEvent)
	d := raised.GetDetails().GetFields()
	if raised.GetKind() != opsv1.Exception_KIND_EVENT_STREAM_LOSS || raised.GetResource() != "streams/TRANSLOAD_ORDER" ||
		d["republished"].GetNumberValue() != 25 || len(d["eventIds"].GetListValue().GetValues()) != 20 ||
		d["stream"].GetStringValue() != "TRANSLOAD_ORDER" {
		t.Fatalf("exception = %v", raised)
	}
}
