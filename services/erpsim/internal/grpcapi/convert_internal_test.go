package grpcapi

import (
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// The domain enums sit at the erp.v1 numbers and convert by a cast. Each
// table lists the domain values by the proto value they are cast to; the
// test fails when a proto value has no domain value (a value added to the
// contract that the simulator would silently send as a number it does not
// know) or when a number drifted.
func TestDomainEnumsMatchTheContract(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		proto  protoreflect.EnumDescriptor
		domain map[string]int
	}{
		{"AccountState", erpv1.Customer_ACCOUNT_STATE_UNSPECIFIED.Descriptor(), map[string]int{
			"ACCOUNT_STATE_ACTIVE":      int(erp.AccountActive),
			"ACCOUNT_STATE_CREDIT_HOLD": int(erp.AccountCreditHold),
			"ACCOUNT_STATE_BLOCKED":     int(erp.AccountBlocked),
			"ACCOUNT_STATE_CLOSED":      int(erp.AccountClosed),
		}},
		{"CreditReason", erpv1.CreditDecisionReason_CREDIT_DECISION_REASON_UNSPECIFIED.Descriptor(), map[string]int{
			"CREDIT_DECISION_REASON_WITHIN_LIMIT":           int(erp.CreditWithinLimit),
			"CREDIT_DECISION_REASON_NO_LIMIT":               int(erp.CreditNoLimit),
			"CREDIT_DECISION_REASON_CREDIT_LIMIT_EXCEEDED":  int(erp.CreditLimitExceeded),
			"CREDIT_DECISION_REASON_CREDIT_HOLD":            int(erp.CreditHold),
			"CREDIT_DECISION_REASON_ACCOUNT_BLOCKED":        int(erp.CreditAccountBlocked),
			"CREDIT_DECISION_REASON_ACCOUNT_CLOSED":         int(erp.CreditAccountClosed),
			"CREDIT_DECISION_REASON_PREPAYMENT_REQUIRED":    int(erp.CreditPrepaymentRequired),
			"CREDIT_DECISION_REASON_CURRENCY_NOT_SUPPORTED": int(erp.CreditCurrencyNotSupported),
		}},
		{"OrderState", erpv1.SalesOrder_STATE_UNSPECIFIED.Descriptor(), map[string]int{
			"STATE_ACCEPTED":  int(erp.OrderAccepted),
			"STATE_REJECTED":  int(erp.OrderRejected),
			"STATE_CANCELLED": int(erp.OrderCancelled),
			"STATE_COMPLETED": int(erp.OrderCompleted),
		}},
		{"RejectionReason", erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_UNSPECIFIED.Descriptor(), map[string]int{
			"SALES_ORDER_REJECTION_REASON_UNSPECIFIED":      int(erp.RejectNone),
			"SALES_ORDER_REJECTION_REASON_CREDIT_HOLD":      int(erp.RejectCreditHold),
			"SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT":     int(erp.RejectCreditLimit),
			"SALES_ORDER_REJECTION_REASON_UNKNOWN_CUSTOMER": int(erp.RejectUnknownCustomer),
			"SALES_ORDER_REJECTION_REASON_UNKNOWN_SKU":      int(erp.RejectUnknownSKU),
			"SALES_ORDER_REJECTION_REASON_PRICE_MISMATCH":   int(erp.RejectPriceMismatch),
			"SALES_ORDER_REJECTION_REASON_BLOCKED_ITEM":     int(erp.RejectBlockedItem),
			"SALES_ORDER_REJECTION_REASON_OTHER":            int(erp.RejectOther),
		}},
		{"SalesState", erpv1.Product_SALES_STATE_UNSPECIFIED.Descriptor(), map[string]int{
			"SALES_STATE_ACTIVE":       int(erp.SalesActive),
			"SALES_STATE_INACTIVE":     int(erp.SalesInactive),
			"SALES_STATE_DISCONTINUED": int(erp.SalesDiscontinued),
		}},
		{"StockEventKind", erpv1.StockEvent_KIND_UNSPECIFIED.Descriptor(), map[string]int{
			"KIND_RECEIPT":      int(erp.StockReceipt),
			"KIND_ADJUSTMENT":   int(erp.StockAdjustment),
			"KIND_TRANSFER_IN":  int(erp.StockTransferIn),
			"KIND_TRANSFER_OUT": int(erp.StockTransferOut),
			"KIND_SHIPMENT":     int(erp.StockShipment),
			"KIND_SET_ON_HAND":  int(erp.StockSetOnHand),
		}},
		{"JournalKind", erpv1.JournalBatch_KIND_UNSPECIFIED.Descriptor(), map[string]int{
			"KIND_INVOICE":     int(erp.JournalInvoice),
			"KIND_CREDIT_MEMO": int(erp.JournalCreditMemo),
		}},
		{"JournalOutcome", erpv1.JournalLineResult_OUTCOME_UNSPECIFIED.Descriptor(), map[string]int{
			"OUTCOME_POSTED":    int(erp.LinePosted),
			"OUTCOME_REJECTED":  int(erp.LineRejected),
			"OUTCOME_DUPLICATE": int(erp.LineDuplicate),
		}},
		{"JournalRejection", erpv1.JournalLineRejectionReason_JOURNAL_LINE_REJECTION_REASON_UNSPECIFIED.Descriptor(), map[string]int{
			"JOURNAL_LINE_REJECTION_REASON_UNSPECIFIED":       int(erp.JournalRejectNone),
			"JOURNAL_LINE_REJECTION_REASON_UNKNOWN_ACCOUNT":   int(erp.JournalRejectUnknownAccount),
			"JOURNAL_LINE_REJECTION_REASON_PERIOD_CLOSED":     int(erp.JournalRejectPeriodClosed),
			"JOURNAL_LINE_REJECTION_REASON_UNKNOWN_CUSTOMER":  int(erp.JournalRejectUnknownCustomer),
			"JOURNAL_LINE_REJECTION_REASON_UNKNOWN_ORDER":     int(erp.JournalRejectUnknownOrder),
			"JOURNAL_LINE_REJECTION_REASON_INVALID_AMOUNT":    int(erp.JournalRejectInvalidAmount),
			"JOURNAL_LINE_REJECTION_REASON_DOCUMENT_REJECTED": int(erp.JournalRejectDocumentRejected),
			"JOURNAL_LINE_REJECTION_REASON_OTHER":             int(erp.JournalRejectOther),
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			values := tt.proto.Values()
			for i := range values.Len() {
				v := values.Get(i)
				got, ok := tt.domain[string(v.Name())]
				switch {
				case !ok && v.Number() != 0:
					t.Errorf("%s (%d) has no domain value", v.Name(), v.Number())
				case ok && got != int(v.Number()):
					t.Errorf("%s is %d in the contract, the domain casts %d", v.Name(), v.Number(), got)
				}
			}
			for name := range tt.domain {
				if values.ByName(protoreflect.Name(name)) == nil {
					t.Errorf("domain value for %s, which the contract does not have", name)
				}
			}
		})
	}
}

// The stored fingerprints of sales orders and journal batches are compared
// with those of later submissions, across deploys: the canonical payload
// and its digest must not change.
func TestSubmissionFingerprintsAreStable(t *testing.T) {
	t.Parallel()
	eur := func(m int64) *commonv1.Money { return &commonv1.Money{AmountMinor: m, CurrencyCode: "EUR"} }
	so := &erpv1.SalesOrder{
		CustomerId: "C0001", Channel: "web", CurrencyCode: "EUR",
		ShipTo:    &commonv1.Address{Recipient: "Test", Locality: "Hamburg", RegionCode: "DE"},
		PlaceTime: timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		Lines: []*erpv1.SalesOrderLine{{LineId: "1", Sku: "SKU-00001", Quantity: &commonv1.Quantity{Value: 1, Unit: "EA"},
			UnitPrice: eur(100), NetAmount: eur(100), Allocations: []*erpv1.WarehouseAllocation{{WarehouseCode: "WH-HAM", Quantity: 1}}}},
		Subtotal: eur(100), GrandTotal: eur(100),
		// Output-only: not part of the fingerprint.
		State: erpv1.SalesOrder_STATE_ACCEPTED, ErpOrderNumber: "SO40000001", UpdateTime: timestamppb.Now(),
	}
	order, err := salesOrderFromProto("ord-1", so)
	if err != nil {
		t.Fatal(err)
	}
	if want := "f0129094adf18a35ed6ee9aa85cb32bd1c077834174c1f6386c25ac6b4886c1b"; order.Fingerprint != want {
		t.Errorf("sales order fingerprint = %s, want %s", order.Fingerprint, want)
	}
	jb := &erpv1.JournalBatch{Kind: erpv1.JournalBatch_KIND_INVOICE, Lines: []*erpv1.JournalLine{{
		LineId: "1", DocumentId: "INV-1", OrderId: "ord-1", CustomerId: "C0001", LineHash: "h1",
		Amount: eur(100), Tax: eur(19), Account: "8400",
	}}, CreateTime: timestamppb.Now()}
	batch, err := journalBatchFromProto("batch-1", jb)
	if err != nil {
		t.Fatal(err)
	}
	if want := "20cb12d93cf1693ff49dc091c899d818ef74224d7ef08c0bb275d05ea898ae11"; batch.Fingerprint != want {
		t.Errorf("journal batch fingerprint = %s, want %s", batch.Fingerprint, want)
	}
}
