package faults

import (
	"fmt"
	"slices"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

var _ erp.JournalRejector = (*Faults)(nil)

// RejectJournalLine implements erp.JournalRejector with the posting
// faults: a line of a customer in PostRejectCustomers is rejected as
// UNKNOWN_CUSTOMER, one on an account in PostRejectAccounts as
// UNKNOWN_ACCOUNT, and otherwise, while PostRejectNext is positive, the
// line is rejected as OTHER and the count goes down by one.
func (f *Faults) RejectJournalLine(l erp.JournalLine) (erp.JournalRejection, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case slices.Contains(f.st.PostRejectCustomers, l.CustomerID):
		return erp.JournalRejectUnknownCustomer, fmt.Sprintf("customer %s is blocked for posting (fault injection)", l.CustomerID), true
	case slices.Contains(f.st.PostRejectAccounts, l.Account):
		return erp.JournalRejectUnknownAccount, fmt.Sprintf("GL account %s is blocked for posting (fault injection)", l.Account), true
	case f.st.PostRejectNext > 0:
		f.st.PostRejectNext--
		return erp.JournalRejectOther, "posting rejected (fault injection: rejectNext lines)", true
	}
	return erp.JournalRejectNone, "", false
}
