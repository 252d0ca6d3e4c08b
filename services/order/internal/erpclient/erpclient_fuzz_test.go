package erpclient_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/testharness/answerconn"
	"github.com/transload/transload/services/order/internal/erpclient"
	"github.com/transload/transload/services/order/internal/order"
)

// FuzzERPAnswers feeds the order service's ERP client well-typed but
// hostile answers (unknown enum values, negative and extreme amounts,
// out-of-range times, huge strings, duplicate journal lines): it never
// panics, answers an error for an outcome it does not know, maps every
// rejection to a known reason with a message, and never hands back a
// customer update time outside the Timestamp range (it becomes the
// customer sync's watermark).
func FuzzERPAnswers(f *testing.F) {
	f.Add(int32(1), int64(100_00), int64(-5), "EUR", int64(1_700_000_000), int32(1), int32(3), "SO-1", "", int32(2), "l1", "l1")
	f.Add(int32(99), int64(-1<<63), int64(1<<63-1), "", int64(1<<62), int32(2), int32(77), string(make([]byte, 1<<12)), "no", int32(9), "l1", "l1")
	f.Add(int32(-3), int64(0), int64(0), "XXXX", int64(-1<<62), int32(42), int32(0), "", "", int32(0), "", "")
	f.Fuzz(func(t *testing.T, account int32, limit, available int64, currency string, updateSec int64,
		outcome, reason int32, ref, msg string, lineOutcome int32, line1, line2 string) {
		ctx := context.Background()
		cu := &erpv1.Customer{
			Name: "customers/c1", AccountState: erpv1.Customer_AccountState(account), DefaultCurrencyCode: currency,
			CreditLimit: &commonv1.Money{AmountMinor: limit, CurrencyCode: currency}, AvailableCredit: &commonv1.Money{AmountMinor: available},
			UpdateTime: &timestamppb.Timestamp{Seconds: updateSec},
		}
		got, err := erpclient.New(answerconn.Conn{Answer: cu}).GetCustomer(ctx, "c1")
		if err == nil && !got.UpdatedAt.IsZero() && !timestamppb.New(got.UpdatedAt).IsValid() {
			t.Fatalf("customer update time %v is out of range (it would become the sync watermark)", got.UpdatedAt)
		}
		list, _, err := erpclient.New(answerconn.Conn{Answer: &erpv1.ListCustomersResponse{Customers: []*erpv1.Customer{cu, cu}}}).ListCustomers(ctx, time.Time{}, "")
		if err == nil && len(list) != 2 {
			t.Fatalf("ListCustomers returned %d customers for 2", len(list))
		}

		res := &erpv1.SubmitSalesOrderResponse{Outcome: erpv1.SubmitSalesOrderResponse_Outcome(outcome),
			RejectionReason: erpv1.SalesOrderRejectionReason(reason), ErpOrderNumber: ref, RejectionMessage: msg}
		out, err := erpclient.New(answerconn.Conn{Answer: res}).SubmitSalesOrder(ctx, &order.Order{ID: "o1"})
		switch {
		case err != nil:
			if res.GetOutcome() == erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED || res.GetOutcome() == erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED {
				t.Fatalf("known outcome %v answered %v", res.GetOutcome(), err)
			}
		case out.Accepted:
			if res.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED || out.ERPOrderRef != ref {
				t.Fatalf("accepted %+v from %v", out, res)
			}
		default:
			if res.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED || out.Rejection.Message == "" {
				t.Fatalf("rejection %+v from %v", out.Rejection, res)
			}
			switch out.Rejection.Reason {
			case order.RejectionCustomerOnHold, order.RejectionCreditLimit, order.RejectionCustomerBlocked,
				order.RejectionProductBlocked, order.RejectionPriceMismatch, order.RejectionOther:
			case order.RejectionUnspecified, order.RejectionInvalidShipTo:
				t.Fatalf("rejection reason %v from ERP reason %v", out.Rejection.Reason, res.GetRejectionReason())
			default:
				t.Fatalf("rejection reason %v from ERP reason %v", out.Rejection.Reason, res.GetRejectionReason())
			}
		}

		jr := &erpv1.PostJournalBatchResponse{JournalBatch: &erpv1.JournalBatch{Name: ref, Results: []*erpv1.JournalLineResult{
			{LineId: line1, Outcome: erpv1.JournalLineResult_Outcome(lineOutcome), RejectionReason: erpv1.JournalLineRejectionReason(reason)},
			{LineId: line2, Outcome: erpv1.JournalLineResult_OUTCOME_POSTED, ErpDocumentNumber: msg},
		}}}
		ans, err := erpclient.New(answerconn.Conn{Answer: jr}).PostJournalBatch(ctx, "j1", order.PostingBatch{ID: "b1"}, nil)
		if err != nil {
			return
		}
		for _, o := range ans.Outcomes {
			switch o.State {
			case order.LinePosted, order.LineDuplicate, 0:
			case order.LineRejected:
				if o.RejectionReason == "" {
					t.Fatalf("rejected line %q without a reason", o.LineID)
				}
			case order.LinePending:
				t.Fatalf("line %q left pending by an answer", o.LineID)
			default:
				t.Fatalf("line %q in state %v", o.LineID, o.State)
			}
		}
	})
}
