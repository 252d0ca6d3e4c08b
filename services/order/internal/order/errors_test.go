package order

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestFailureRoundTrip: every storable business failure is stored as the
// record earlier builds wrote (so their records still replay) and comes back
// from storage as the same domain error, so replays answer like the original.
func TestFailureRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		stored string
	}{
		{&CustomerError{CustomerID: "C0020", Err: ErrCustomerOnCreditHold},
			`{"kind":"customer_on_credit_hold","meta":{"customer_id":"C0020"}}`},
		{&CustomerError{CustomerID: "C9999", Err: ErrCustomerNotFound},
			`{"kind":"customer_not_found","meta":{"customer_id":"C9999"}}`},
		{&ChannelNotAllowedError{CustomerID: "C0011", Channel: "b2b"},
			`{"kind":"channel_not_allowed","meta":{"channel":"b2b","customer_id":"C0011"}}`},
		{&CurrencyNotAllowedError{CustomerID: "C0001", Currency: "USD"},
			`{"kind":"currency_not_allowed","meta":{"currency":"USD","customer_id":"C0001"}}`},
		{&CreditLimitExceededError{CustomerID: "C0001", LimitMinor: 100, ExposureMinor: 60, TotalMin: 50, Currency: "EUR"},
			`{"kind":"credit_limit_exceeded","meta":{"currency":"EUR","customer_id":"C0001","exposure":"60","limit":"100","total":"50"}}`},
		{&DuplicateSKUError{SKU: "SKU-1"}, `{"kind":"duplicate_sku","meta":{"sku":"SKU-1"}}`},
		{&UnknownSKUError{SKU: "NOPE", LineIndex: 3}, `{"kind":"unknown_sku","meta":{"line_index":"3","sku":"NOPE"}}`},
		{&PriceUnavailableError{SKU: "SKU-1", Currency: "EUR"}, `{"kind":"price_unavailable","meta":{"currency":"EUR","sku":"SKU-1"}}`},
		{&InvalidQuantityError{SKU: "SKU-1", LineIndex: 1, Message: "not a pack multiple"},
			`{"kind":"invalid_quantity","meta":{"line_index":"1","message":"not a pack multiple","sku":"SKU-1"}}`},
		{&PriceChangedError{ExpectedMinor: 199, ActualMinor: 200, Currency: "EUR"},
			`{"kind":"price_changed","meta":{"actual":"200","currency":"EUR","expected":"199"}}`},
		{&OutOfStockError{SKU: "SKU-00500", Requested: 11, Available: 10},
			`{"kind":"out_of_stock","meta":{"available":"10","requested":"11","sku":"SKU-00500"}}`},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			t.Parallel()
			f, ok := FailureFromError(fmt.Errorf("place: %w", tc.err))
			if !ok {
				t.Fatalf("%T not storable", tc.err)
			}
			enc, err := MarshalFailure(f)
			if err != nil {
				t.Fatal(err)
			}
			if enc != tc.stored {
				t.Errorf("stored as %s, want %s", enc, tc.stored)
			}
			dec, err := UnmarshalFailure(tc.stored)
			if err != nil {
				t.Fatal(err)
			}
			if got := dec.Err(); !reflect.DeepEqual(tc.err, got) {
				t.Errorf("replay: got %#v, want %#v", got, tc.err)
			}
		})
	}
	for _, err := range []error{&DependencyError{Target: "erp"}, errors.New("db down"), ErrRequestInProgress,
		&CustomerError{CustomerID: "C1", Err: errors.New("other")}} {
		if _, ok := FailureFromError(err); ok {
			t.Errorf("%v must not be stored as a result", err)
		}
	}
	if err := (Failure{Kind: "no_such_kind"}).Err(); err == nil || !strings.Contains(err.Error(), "no_such_kind") {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestStateMachine(t *testing.T) {
	t.Parallel()
	allowed := map[[2]State]bool{
		{StateAcceptedPendingERP, StateConfirmed}: true, {StateAcceptedPendingERP, StateRejected}: true,
		{StateAcceptedPendingERP, StateCancelled}: true, {StateConfirmed, StatePartiallyShipped}: true,
		{StateConfirmed, StateShipped}: true, {StateConfirmed, StateCancelled}: true,
		{StatePartiallyShipped, StateShipped}: true, {StateShipped, StateDelivered}: true,
	}
	for from := StateUnspecified; from <= StateCancelled; from++ {
		for to := StateUnspecified; to <= StateCancelled; to++ {
			if got := CanTransition(from, to); got != allowed[[2]State{from, to}] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
		if from.Terminal() && len(transitions[from]) > 0 {
			t.Errorf("terminal %s has transitions", from)
		}
	}
}
