package desk_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/services/ops/internal/desk"
)

func TestAllowedActions(t *testing.T) {
	ack, res := desk.ActionAcknowledge, desk.ActionResolve
	for _, tc := range []struct {
		name string
		e    desk.Exception
		want []desk.Action
	}{
		{"open rejection", desk.Exception{Kind: desk.KindERPRejection, State: desk.StateOpen}, []desk.Action{ack, res}},
		{"acknowledged rejection", desk.Exception{Kind: desk.KindERPRejection, State: desk.StateAcknowledged}, []desk.Action{res}},
		{"resolved rejection", desk.Exception{Kind: desk.KindERPRejection, State: desk.StateResolved}, nil},
		{"pending dead letter", desk.Exception{Kind: desk.KindDeadLetter, State: desk.StateOpen, DeadLetterPending: true},
			[]desk.Action{ack, res, desk.ActionReplayDeadLetter}},
		{"replayed dead letter", desk.Exception{Kind: desk.KindDeadLetter, State: desk.StateOpen}, []desk.Action{ack, res}},
		{"resolved, dead letter still pending", desk.Exception{Kind: desk.KindDeadLetter, State: desk.StateResolved, DeadLetterPending: true},
			[]desk.Action{desk.ActionReplayDeadLetter}},
		{"ERP submission", desk.Exception{Kind: desk.KindERPSubmissionFailed, State: desk.StateAcknowledged},
			[]desk.Action{res, desk.ActionRetryERPSubmission}},
		{"variance", desk.Exception{Kind: desk.KindInventoryVariance, State: desk.StateOpen},
			[]desk.Action{ack, res, desk.ActionTriggerReconciliation}},
		{"sequence gap", desk.Exception{Kind: desk.KindStockSequenceGap, State: desk.StateOpen},
			[]desk.Action{ack, res, desk.ActionTriggerReconciliation}},
		{"stream loss", desk.Exception{Kind: desk.KindEventStreamLoss, State: desk.StateOpen}, []desk.Action{ack, res}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.e.AllowedActions()); diff != "" {
				t.Fatalf("AllowedActions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeadLetterDomain(t *testing.T) {
	for consumer, want := range map[string]desk.Domain{
		"fulfillment-order-confirmed": desk.DomainFulfillment,
		"order-posting-lines":         desk.DomainFinance,
		"ops_desk":                    desk.DomainCommerce,
		"inventory-order-cancelled":   desk.DomainCommerce,
	} {
		if got := desk.DeadLetterDomain(consumer); got != want {
			t.Errorf("DeadLetterDomain(%q) = %d, want %d", consumer, got, want)
		}
	}
}

func TestDeadLetterNames(t *testing.T) {
	for name, want := range map[string]uint64{"deadLetters/42": 42, "deadLetters/0": 0, "deadLetters/x": 0, "exceptions/42": 0, "deadLetters/-1": 0} {
		seq, ok := desk.ParseDeadLetterName(name)
		if seq != want || ok != (want != 0) {
			t.Errorf("ParseDeadLetterName(%q) = %d, %v; want %d", name, seq, ok, want)
		}
		if ok && desk.DeadLetterName(seq) != name {
			t.Errorf("DeadLetterName(%d) = %q, want %q", seq, desk.DeadLetterName(seq), name)
		}
	}
}
