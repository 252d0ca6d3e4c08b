package order

import (
	"errors"
	"reflect"
	"testing"
)

// TestFailureRoundTrip: every storable business failure comes back from
// storage as the same domain error, so replays answer like the original.
func TestFailureRoundTrip(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		&CustomerError{CustomerID: "C0020", Err: ErrCustomerOnCreditHold},
		&CustomerError{CustomerID: "C9999", Err: ErrCustomerNotFound},
		&ChannelNotAllowedError{CustomerID: "C0011", Channel: "b2b"},
		&CurrencyNotAllowedError{CustomerID: "C0001", Currency: "USD"},
		&CreditLimitExceededError{CustomerID: "C0001", LimitMinor: 100, ExposureMinor: 60, TotalMin: 50, Currency: "EUR"},
		&DuplicateSKUError{SKU: "SKU-1"},
		&UnknownSKUError{SKU: "NOPE", LineIndex: 3},
		&PriceUnavailableError{SKU: "SKU-1", Currency: "EUR"},
		&InvalidQuantityError{SKU: "SKU-1", LineIndex: 1, Message: "not a pack multiple"},
		&PriceChangedError{ExpectedMinor: 199, ActualMinor: 200, Currency: "EUR"},
		&OutOfStockError{SKU: "SKU-00500", Requested: 11, Available: 10},
	} {
		f, ok := FailureFromError(err)
		if !ok {
			t.Errorf("%T not storable", err)
			continue
		}
		enc, merr := MarshalFailure(f)
		if merr != nil {
			t.Fatal(merr)
		}
		dec, uerr := UnmarshalFailure(enc)
		if uerr != nil {
			t.Fatal(uerr)
		}
		if got := dec.Err(); !reflect.DeepEqual(err, got) {
			t.Errorf("round trip: got %#v, want %#v", got, err)
		}
	}
	for _, err := range []error{&DependencyError{Target: "erp"}, errors.New("db down"), ErrRequestInProgress} {
		if _, ok := FailureFromError(err); ok {
			t.Errorf("%v must not be stored as a result", err)
		}
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
