package desk

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// DefaultReplayMax is how many dead letters one replay handles when the
// request sets no limit.
const DefaultReplayMax = 1000

// ReplayOutcome is what happened to one dead letter of a replay (ops.v1
// ReplayResult.Outcome).
type ReplayOutcome int32

// The outcomes.
const (
	OutcomeWouldReplay ReplayOutcome = 1
	OutcomeReplayed    ReplayOutcome = 2
	OutcomeSkipped     ReplayOutcome = 3
	OutcomeFailed      ReplayOutcome = 4
)

// ReplayParams selects dead letters to replay: by Names, or by Filter
// (the conditions of ListDeadLetters; only PENDING ones unless a
// condition is on "state").
type ReplayParams struct {
	// RequestID is the client's idempotency key (not remembered for dry
	// runs).
	RequestID string
	// Names are dead-letter resource names; when empty, Filter selects.
	Names []string
	// Filter and FilterText are the parsed filter and the filter as sent
	// (it is part of the request's fingerprint).
	Filter     []Cond
	FilterText string
	// DryRun reports what would be replayed without replaying.
	DryRun bool
	// Max caps how many dead letters the call handles (0:
	// DefaultReplayMax).
	Max int
	// Actor is the operator; CorrelationID the request's.
	Actor         Actor
	CorrelationID string
}

// ReplayResult is the outcome for one dead letter.
type ReplayResult struct {
	DeadLetter string
	EventID    string
	Consumer   string
	Subject    string
	Outcome    ReplayOutcome
	// Detail says why it was skipped or failed.
	Detail string
}

// ReplayReport is what a replay did (or would do).
type ReplayReport struct {
	DryRun    bool
	Matched   int64
	Replayed  int64
	Skipped   int64
	Failed    int64
	Truncated bool
	Results   []ReplayResult
}

// Replay re-delivers the selected dead letters, oldest first (dead-letter
// stream order, which keeps each aggregate's events in the order they
// were dead-lettered). PENDING ones still in the stream are re-delivered
// and, in one transaction afterwards, marked REPLAYED (replay count + 1,
// last replay time) with one audit record "dead_letter.replay" each; ones
// REPLAYED already, or gone from the stream, are skipped. Every handled
// dead letter's DEAD_LETTER exception gets a history entry with the
// outcome.
//
// A dry run answers with OUTCOME_WOULD_REPLAY for exactly the dead
// letters a replay would re-deliver at that moment, changes nothing and is
// not remembered. A real replay is remembered under its request id unless
// a re-delivery failed (so the request can be repeated once NATS is
// back); the same id with the same selection returns the first report.
//
// Errors: a *NotFoundError for a name that is no dead letter,
// ErrIdempotencyKeyReused, ErrUnavailable when a dry run cannot read the
// stream.
func (d *Desk) Replay(ctx context.Context, p ReplayParams) (*ReplayReport, error) {
	limit := p.Max
	if limit <= 0 {
		limit = DefaultReplayMax
	}
	fp := fingerprint.Of(struct {
		Names  []string `json:"names"`
		Filter string   `json:"filter"`
		Max    int      `json:"max"`
	}{p.Names, p.FilterText, limit})
	scope := p.Actor.String()
	if !p.DryRun {
		prev, ok, err := d.store.Remembered(ctx, scope, p.RequestID)
		if err != nil {
			return nil, err
		}
		if ok {
			var rep ReplayReport
			if err := decodeRemembered(prev, fp, &rep); err != nil {
				return nil, err
			}
			return &rep, nil
		}
	}
	dls, truncated, err := d.selectDeadLetters(ctx, p, limit)
	if err != nil {
		return nil, err
	}
	var pending []uint64
	for _, dl := range dls {
		if dl.State == DeadLetterPending {
			pending = append(pending, dl.Seq)
		}
	}
	var done []uint64
	var rerr error
	if len(pending) > 0 {
		done, rerr = d.stream.Replay(ctx, pending, p.DryRun)
	}
	if rerr != nil && p.DryRun {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, rerr)
	}
	rep := report(dls, done, rerr, p.DryRun)
	rep.Truncated = truncated
	if p.DryRun {
		return rep, nil
	}
	if err := d.recordReplay(ctx, p, fp, dls, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// selectDeadLetters returns the dead letters p selects, oldest first, at
// most limit, and whether more matched.
func (d *Desk) selectDeadLetters(ctx context.Context, p ReplayParams, limit int) ([]*DeadLetter, bool, error) {
	if len(p.Names) > 0 {
		dls := make([]*DeadLetter, 0, len(p.Names))
		for _, name := range p.Names {
			seq, ok := ParseDeadLetterName(name)
			if !ok {
				return nil, false, &NotFoundError{Name: name}
			}
			dl, err := d.store.GetDeadLetter(ctx, seq)
			if err != nil {
				if IsNotFound(err) {
					return nil, false, &NotFoundError{Name: name}
				}
				return nil, false, err
			}
			dls = append(dls, dl)
		}
		slices.SortFunc(dls, func(a, b *DeadLetter) int { return cmp.Compare(a.Seq, b.Seq) })
		if len(dls) > limit {
			return dls[:limit], true, nil
		}
		return dls, false, nil
	}
	conds := p.Filter
	if !slices.ContainsFunc(conds, func(c Cond) bool { return c.Field == "state" }) {
		conds = append(slices.Clip(conds), Cond{Field: "state", Op: OpEq, Value: int32(DeadLetterPending)})
	}
	dls, err := d.store.ListDeadLetters(ctx, DeadLetterQuery{Conds: conds, OldestFirst: true, Limit: limit + 1})
	if err != nil {
		return nil, false, err
	}
	if len(dls) > limit {
		return dls[:limit], true, nil
	}
	return dls, false, nil
}

// report builds the outcome per dead letter from what the stream did.
func report(dls []*DeadLetter, done []uint64, rerr error, dryRun bool) *ReplayReport {
	rep := &ReplayReport{DryRun: dryRun, Matched: int64(len(dls))}
	for _, dl := range dls {
		r := ReplayResult{DeadLetter: dl.Name(), EventID: dl.EventID, Consumer: dl.Consumer, Subject: dl.Subject}
		switch {
		case dl.State == DeadLetterReplayed:
			r.Outcome, r.Detail = OutcomeSkipped, "already replayed"
		case slices.Contains(done, dl.Seq) && dryRun:
			r.Outcome = OutcomeWouldReplay
		case slices.Contains(done, dl.Seq):
			r.Outcome = OutcomeReplayed
		case rerr != nil:
			r.Outcome, r.Detail = OutcomeFailed, "re-delivery failed, it stays pending: "+rerr.Error()
		default:
			r.Outcome, r.Detail = OutcomeSkipped, "no longer in the dead-letter stream (replayed or purged elsewhere)"
		}
		switch r.Outcome {
		case OutcomeWouldReplay, OutcomeReplayed:
			rep.Replayed++
		case OutcomeSkipped:
			rep.Skipped++
		case OutcomeFailed:
			rep.Failed++
		}
		rep.Results = append(rep.Results, r)
	}
	return rep
}

// recordReplay writes what a real replay did: the REPLAYED marks, their
// audit records, the history of the dead letters' exceptions and, unless
// something failed, the report under the request id.
func (d *Desk) recordReplay(ctx context.Context, p ReplayParams, fp string, dls []*DeadLetter, rep *ReplayReport) error {
	now := d.now().UTC()
	// Ids made once, so a retried transaction writes the same records.
	ids := make([]string, len(dls))
	for i := range ids {
		ids[i] = d.newID()
	}
	result, err := encodeJSON(rep)
	if err != nil {
		return err
	}
	return d.store.InTx(ctx, func(tx Tx) error {
		for i, r := range rep.Results {
			if r.Outcome == OutcomeReplayed {
				if err := d.markReplayed(ctx, tx, p, dls[i].Seq, ids[i], now); err != nil {
					return err
				}
			}
			if err := d.noteReplay(ctx, tx, p, r, now); err != nil {
				return err
			}
		}
		if rep.Failed > 0 {
			return nil
		}
		return tx.Remember(ctx, p.Actor.String(), p.RequestID, Remembered{Fingerprint: fp, Result: result})
	})
}

// markReplayed marks dead letter seq REPLAYED and audits it.
func (d *Desk) markReplayed(ctx context.Context, tx Tx, p ReplayParams, seq uint64, auditID string, now time.Time) error {
	dl, err := tx.GetDeadLetter(ctx, seq)
	if err != nil {
		return err
	}
	before := deadLetterView(dl)
	dl.State, dl.ReplayCount, dl.LastReplayTime = DeadLetterReplayed, dl.ReplayCount+1, now
	if err := tx.UpdateDeadLetter(ctx, dl); err != nil {
		return err
	}
	_, err = tx.InsertAuditRecord(ctx, &AuditRecord{
		ID: auditID, Actor: p.Actor, Action: "dead_letter.replay", Target: dl.Name(), Service: Service,
		CorrelationID: p.CorrelationID, Before: before, After: deadLetterView(dl), CreateTime: now,
	})
	return err
}

// noteReplay adds the outcome of r to the history of its dead letter's
// DEAD_LETTER exception, if there is one.
func (d *Desk) noteReplay(ctx context.Context, tx Tx, p ReplayParams, r ReplayResult, now time.Time) error {
	e, err := tx.LatestException(ctx, KindDeadLetter, r.DeadLetter)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	outcome := outcomeText(r)
	if err := tx.AppendHistory(ctx, e.ID, HistoryEntry{
		Action: HistoryDeadLetterReplay, Actor: p.Actor, Outcome: outcome, CreateTime: now,
		DedupeKey: "replay:" + p.RequestID + ":" + strconv.Itoa(int(r.Outcome)),
	}); err != nil {
		return err
	}
	e.UpdateTime = now
	return tx.UpdateException(ctx, e)
}

func outcomeText(r ReplayResult) string {
	switch r.Outcome {
	case OutcomeReplayed:
		return "replayed"
	case OutcomeSkipped:
		return "skipped: " + r.Detail
	case OutcomeFailed:
		return "failed: " + r.Detail
	case OutcomeWouldReplay:
		return "would replay"
	}
	return ""
}

// deadLetterView is what the audit trail keeps of a dead letter.
func deadLetterView(dl *DeadLetter) map[string]any {
	v := map[string]any{"name": dl.Name(), "state": dl.State.String(), "replayCount": dl.ReplayCount}
	if !dl.LastReplayTime.IsZero() {
		v["lastReplayTime"] = dl.LastReplayTime.Format(time.RFC3339Nano)
	}
	return v
}
