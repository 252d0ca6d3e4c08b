package wms

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// RegisterResult is the outcome of RegisterExpectedReturn.
type RegisterResult struct {
	Return ExpectedReturn
	// Duplicate is true when the id had been registered before.
	Duplicate bool
}

// RegisterExpectedReturn registers an expected return idempotently on id.
// An unknown warehouse yields a REJECTED registration (an outcome, not an
// error); a replay with another payload fails with ErrKeyReused.
func (s *Service) RegisterExpectedReturn(ctx context.Context, id string, notice ReturnNotice) (RegisterResult, error) {
	fp := notice.Fingerprint()
	now := s.now()
	build := func(number int64) (ExpectedReturn, error) {
		r := ExpectedReturn{
			ID: id, Number: number, Notice: notice, Fingerprint: fp,
			State: ReturnExpected, CreateTime: now, UpdateTime: now,
		}
		if s.receiptDelay > 0 {
			r.ReceiveAt = now.Add(s.receiptDelay)
		}
		if _, known := findWarehouse(notice.Warehouse); !known {
			r.ReceiveAt = time.Time{}
			r.State = ReturnRejected
			r.RejectionReason = RejectionUnknownWarehouse
			r.RejectionMessage = fmt.Sprintf("warehouse %q is not operated by this WMS", notice.Warehouse)
		}
		return r, nil
	}
	r, created, err := createOnce(ctx, id, fp, s.store.CreateExpectedReturn, build, func(r ExpectedReturn) string { return r.Fingerprint })
	if err != nil {
		return RegisterResult{}, fmt.Errorf("register expected return %s: %w", id, err)
	}
	if created {
		s.logger.InfoContext(ctx, "expected return registered", slog.String("expected_return_id", id), slog.String("state", string(r.State)))
		return RegisterResult{Return: r}, nil
	}
	return RegisterResult{Return: r, Duplicate: true}, nil
}

// GetExpectedReturn returns the expected return with id or
// ErrExpectedReturnNotFound.
func (s *Service) GetExpectedReturn(ctx context.Context, id string) (ExpectedReturn, error) {
	return s.store.GetExpectedReturn(ctx, id)
}

// CancelExpectedReturn cancels an expected return before anything was
// received. Cancelled and rejected ones are returned unchanged; received
// ones fail with *ReturnAlreadyReceivedError.
func (s *Service) CancelExpectedReturn(ctx context.Context, id, reason string) (ExpectedReturn, error) {
	now := s.now()
	return s.store.UpdateExpectedReturn(ctx, id, func(r *ExpectedReturn) ([]ReturnEvent, error) {
		switch r.State {
		case ReturnCancelled, ReturnRejected:
			return nil, nil
		case ReturnPartiallyReceived, ReturnReceived:
			return nil, &ReturnAlreadyReceivedError{ID: r.ID}
		case ReturnExpected:
			// Cancelled below.
		}
		r.State = ReturnCancelled
		r.ReceiveAt = time.Time{}
		r.CancelReason = reason
		r.UpdateTime = now
		return nil, nil
	})
}

// ReceiveReturn simulates a receipt against an expected return and appends
// the ReturnEvent. Without lines, everything still outstanding is received
// as new and restocked. A line names its expected line by LineID (or SKU);
// Condition defaults to NEW and Disposition to RESTOCK. Receipts that do not
// fit fail with *InvalidReceiptError.
// A receipt through the control API ends the automatic receipt of the
// return: the caller drives it from then on. It also receives a cancelled
// return (a parcel that arrived after the cancellation), which the
// automatic receipt never does.
func (s *Service) ReceiveReturn(ctx context.Context, id string, lines []ReceiptLine) (ReturnEvent, error) {
	return s.receive(ctx, id, lines, false)
}

// receive is ReceiveReturn; auto receives at the return's due ReceiveAt
// and stamps the receipt with that time.
func (s *Service) receive(ctx context.Context, id string, lines []ReceiptLine, auto bool) (ReturnEvent, error) {
	now := s.now()
	var out ReturnEvent
	_, err := s.store.UpdateExpectedReturn(ctx, id, func(r *ExpectedReturn) ([]ReturnEvent, error) {
		if auto && (r.ReceiveAt.IsZero() || r.ReceiveAt.After(now)) {
			return nil, &InvalidReceiptError{Reason: "automatic receipt not due"}
		}
		// A cancelled return is not received automatically any more, but
		// a parcel that arrives anyway (the control API's receipt) is
		// received and reported like any other: the WMS books what is on
		// its dock, and Transload raises the late parcel for its desk.
		lateParcel := !auto && r.State == ReturnCancelled
		if r.State != ReturnExpected && r.State != ReturnPartiallyReceived && !lateParcel {
			return nil, &InvalidReceiptError{Reason: fmt.Sprintf("expected return is %s", r.State)}
		}
		received := make(map[string]int64, len(r.Received))
		for k, v := range r.Received {
			received[k] = v
		}
		var got []ReceiptLine
		if len(lines) == 0 {
			for _, l := range r.Notice.Lines {
				if left := l.Quantity - received[l.LineID]; left > 0 {
					got = append(got, ReceiptLine{LineID: l.LineID, SKU: l.SKU, Quantity: left})
				}
			}
		} else {
			got = append(got, lines...)
		}
		if len(got) == 0 {
			return nil, &InvalidReceiptError{Reason: "nothing left to receive"}
		}
		for i := range got {
			l := &got[i]
			exp, ok := findReturnLine(r.Notice.Lines, l.LineID, l.SKU)
			if !ok {
				return nil, &InvalidReceiptError{Reason: fmt.Sprintf("line %q / sku %q is not expected", l.LineID, l.SKU)}
			}
			l.LineID, l.SKU = exp.LineID, exp.SKU
			if l.Quantity <= 0 {
				return nil, &InvalidReceiptError{Reason: fmt.Sprintf("line %s: quantity must be positive", l.LineID)}
			}
			if received[l.LineID]+l.Quantity > exp.Quantity {
				return nil, &InvalidReceiptError{Reason: fmt.Sprintf("line %s: more than expected", l.LineID)}
			}
			if l.Condition == "" {
				l.Condition = ConditionNew
			}
			if l.Disposition == "" {
				l.Disposition = DispositionRestock
			}
			if !validCondition(l.Condition) || !validDisposition(l.Disposition) {
				return nil, &InvalidReceiptError{Reason: fmt.Sprintf("line %s: unknown condition or disposition", l.LineID)}
			}
			received[l.LineID] += l.Quantity
		}
		complete := true
		for _, l := range r.Notice.Lines {
			if received[l.LineID] < l.Quantity {
				complete = false
			}
		}
		occur := now
		if auto && !r.ReceiveAt.IsZero() {
			occur = r.ReceiveAt
		}
		r.ReceiveAt = time.Time{}
		r.Received = received
		r.EventCount++
		r.UpdateTime = now
		r.State = ReturnPartiallyReceived
		if complete {
			r.State = ReturnReceived
		}
		out = ReturnEvent{
			EventID:         fmt.Sprintf("RE-%08d-%d", r.Number, r.EventCount),
			ExpectedReturn:  r.ID,
			OrderID:         r.Notice.OrderID,
			Warehouse:       r.Notice.Warehouse,
			Sequence:        r.EventCount,
			Lines:           got,
			WMSReference:    fmt.Sprintf("%s-R%d", r.WMSReference(), r.EventCount),
			ReceiptComplete: complete,
			OccurTime:       occur,
		}
		return []ReturnEvent{out}, nil
	})
	if err != nil {
		return ReturnEvent{}, fmt.Errorf("receive return %s: %w", id, err)
	}
	s.observer.ReturnReceived(out.Warehouse)
	return out, nil
}

func findReturnLine(lines []ReturnLine, lineID, sku string) (ReturnLine, bool) {
	for _, l := range lines {
		if lineID != "" && l.LineID == lineID {
			return l, true
		}
	}
	if lineID == "" && sku != "" {
		for _, l := range lines {
			if l.SKU == sku {
				return l, true
			}
		}
	}
	return ReturnLine{}, false
}

func validCondition(c Condition) bool {
	switch c {
	case ConditionNew, ConditionOpened, ConditionUsed, ConditionDamaged, ConditionDefective, ConditionWrongItem:
		return true
	}
	return false
}

func validDisposition(d Disposition) bool {
	switch d {
	case DispositionRestock, DispositionQuarantine, DispositionScrap:
		return true
	}
	return false
}
