package main

import (
	"log/slog"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/order/internal/config"
	"github.com/transload/transload/services/order/internal/erpclient"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
	"github.com/transload/transload/services/order/internal/store/sqlstore"
)

// newPoster wires financial posting with the ORDER_POSTING_*
// configuration: batches go to the ERP over the ERP queue's connection
// (the same breaker: while it is open, batches wait SUBMIT_FAILED for the
// next pass), each call bounded by ORDER_POSTING_SUBMIT_TIMEOUT.
func newPoster(cfg config.Config, db *sqldb.DB, n *neighbours, relay *outbox.Relay, log *slog.Logger) (*order.Poster, error) {
	p, err := order.NewPoster(order.PostingConfig{
		BatchSize: cfg.PostingBatchSize, Interval: cfg.PostingInterval, SubmitTimeout: cfg.PostingSubmitTimeout,
		InvoiceAccount: cfg.PostingInvoiceAccount, CreditMemoAccount: cfg.PostingCreditMemoAccount,
		LeaseTTL: cfg.PostingLeaseTTL,
	}, sqlstore.New(db, orderpb.Encoder{}), erpclient.New(n.erpQueue), nil, log)
	if err != nil {
		return nil, err
	}
	p.OnCommit = relay.Notify
	return p, nil
}
