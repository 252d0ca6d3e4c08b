package tracingtest

import (
	"strconv"
	"strings"
	"testing"
)

func TestNoMatchNamesTheLastSpans(t *testing.T) {
	t.Parallel()
	if err := noMatch(nil); err == nil || err.Error() != "no span received" {
		t.Errorf("noMatch(nil) = %v", err)
	}
	var spans []Span
	for i := range 25 {
		spans = append(spans, Span{Service: "order", Name: "op" + strconv.Itoa(i), TraceID: "t", SpanID: "s"})
	}
	msg := noMatch(spans).Error()
	if !strings.Contains(msg, "none of 25 received spans") || !strings.Contains(msg, "order/op24 t/s") {
		t.Errorf("message %q does not count the spans and name the last", msg)
	}
	if strings.Contains(msg, "order/op4 ") {
		t.Errorf("message %q lists more than the last 20 spans", msg)
	}
}
