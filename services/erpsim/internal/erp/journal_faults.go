package erp

import (
	"context"
	"errors"
)

// JournalRejector injects posting rejections into journal lines (the
// simulator's posting faults): it is asked for each line that would
// otherwise be checked and posted (not for a line already posted, which
// stays DUPLICATE) and may reject it with a reason and message.
type JournalRejector interface {
	RejectJournalLine(l JournalLine) (JournalRejection, string, bool)
}

// WithJournalRejector installs the posting fault injector (default none).
func WithJournalRejector(r JournalRejector) Option {
	return func(s *Service) { s.journalRejector = r }
}

// PostedJournalLine is a journal line the ERP posted, with its batch and
// document number (GET /control/journal).
type PostedJournalLine struct {
	BatchID           string
	Kind              JournalKind
	Line              JournalLine
	ERPDocumentNumber string
}

// JournalLister lists every posted journal line, in posting order; the
// sqlstore implements it.
type JournalLister interface {
	PostedJournalLines(ctx context.Context) ([]PostedJournalLine, error)
}

// errJournalNotListable: the store cannot list posted journal lines.
var errJournalNotListable = errors.New("erp: the store cannot list posted journal lines")

// PostedJournalLines lists the posted journal lines (an error when the
// store cannot list them).
func (s *Service) PostedJournalLines(ctx context.Context) ([]PostedJournalLine, error) {
	l, ok := s.store.(JournalLister)
	if !ok {
		return nil, errJournalNotListable
	}
	return l.PostedJournalLines(ctx)
}
