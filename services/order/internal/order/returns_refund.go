package order

import "fmt"

// Refund is the refund for returning qty more units of an order line of
// lineQty units that was paid paidMinor in total (its extended price, the
// authoritative price of the order), when refundedQty units of the line were
// refunded before.
//
// The refund is pro-rata and cumulative: the first n units of a line are
// worth floor(paidMinor × n / lineQty) (ProRataMinor, in 128 bits), and a refund is the worth of the
// units refunded after it minus the worth before. So a refund is never
// negative, never above what was paid for the line (all lineQty units are
// worth exactly paidMinor), and refunds of parts in any split sum to the
// refund of the whole: rounding never loses or invents a minor unit.
//
// Errors: a non-positive lineQty, a negative paid amount or quantity, or
// refundedQty+qty above lineQty.
func Refund(paidMinor, lineQty, refundedQty, qty int64) (int64, error) {
	switch {
	case lineQty <= 0:
		return 0, fmt.Errorf("refund: line quantity %d is not positive", lineQty)
	case paidMinor < 0 || refundedQty < 0 || qty < 0:
		return 0, fmt.Errorf("refund: negative amount or quantity (paid %d, refunded %d, qty %d)", paidMinor, refundedQty, qty)
	case refundedQty > lineQty || qty > lineQty-refundedQty:
		return 0, fmt.Errorf("refund: %d more units after %d refunded exceed the line's %d", qty, refundedQty, lineQty)
	}
	before, err := ProRataMinor(paidMinor, refundedQty, lineQty)
	if err != nil {
		return 0, err
	}
	after, err := ProRataMinor(paidMinor, refundedQty+qty, lineQty)
	if err != nil {
		return 0, err
	}
	return after - before, nil
}
