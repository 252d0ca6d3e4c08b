package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
)

// DefaultDeadLetterStream is the name of the dead-letter stream.
const DefaultDeadLetterStream = "DEADLETTER"

// DeadLetterSubjectPrefix starts every dead-letter subject; a consumer's
// dead letters go to DeadLetterSubjectPrefix + consumer name.
const DeadLetterSubjectPrefix = "deadletter."

// Headers added to a dead letter next to the original message's headers.
const (
	// HeaderDLConsumer names the consumer that gave up on the event.
	HeaderDLConsumer = "Transload-DL-Consumer"
	// HeaderDLStream is the stream the event was consumed from.
	HeaderDLStream = "Transload-DL-Stream"
	// HeaderDLStreamSeq is the event's sequence in that stream.
	HeaderDLStreamSeq = "Transload-DL-Stream-Seq"
	// HeaderDLSubject is the subject the event was published on, where a
	// replay republishes it.
	HeaderDLSubject = "Transload-DL-Subject"
	// HeaderDLError is the last handler error (single line, truncated).
	HeaderDLError = "Transload-DL-Error"
	// HeaderDLDeliveries is how many times the event was delivered.
	HeaderDLDeliveries = "Transload-DL-Deliveries"
	// HeaderDLTime is when the event was dead-lettered (RFC 3339, UTC).
	HeaderDLTime = "Transload-DL-Time"
	// HeaderReplayOf is set on a replayed event: the dead-letter stream
	// sequence it was replayed from.
	HeaderReplayOf = "Transload-Replay-Of"
)

// maxErrorHeader caps the stored error text; headers are not meant for
// stack traces.
const maxErrorHeader = 2048

// EnsureDeadLetterStream creates (or updates) the dead-letter stream name
// capturing "deadletter.>" with file storage. Dead letters are kept until
// replayed or purged by an operator.
func EnsureDeadLetterStream(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	if name == "" {
		name = DefaultDeadLetterStream
	}
	s, err := eventstreams.CreateOrUpdate(ctx, js, jetstream.StreamConfig{
		Name:        name,
		Description: "Transload dead letters: events consumers could not apply",
		Subjects:    []string{DeadLetterSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  eventstreams.DefaultDuplicateWindow,
		// Deleting replayed dead letters must be possible.
		DenyDelete:  false,
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("events: ensure dead-letter stream %s: %w", name, err)
	}
	return s, nil
}

func newDeadLetterMsg(consumer, stream string, streamSeq uint64, subject string, header nats.Header, data []byte,
	cause error, deliveries uint64, now time.Time) *nats.Msg {
	m := nats.NewMsg(DeadLetterSubjectPrefix + consumer)
	m.Data = data
	for k, vs := range header {
		if k == outbox.HeaderMsgID || strings.HasPrefix(k, "Nats-") {
			continue
		}
		for _, v := range vs {
			m.Header.Add(k, v)
		}
	}
	// A consumer that dies between storing the dead letter and
	// terminating the message stores it again on the next delivery; the
	// id makes JetStream drop that copy.
	m.Header.Set(outbox.HeaderMsgID, fmt.Sprintf("dl:%s:%s:%d", consumer, stream, streamSeq))
	m.Header.Set(HeaderDLConsumer, consumer)
	m.Header.Set(HeaderDLStream, stream)
	m.Header.Set(HeaderDLStreamSeq, strconv.FormatUint(streamSeq, 10))
	m.Header.Set(HeaderDLSubject, subject)
	m.Header.Set(HeaderDLError, headerText(cause.Error()))
	m.Header.Set(HeaderDLDeliveries, strconv.FormatUint(deliveries, 10))
	m.Header.Set(HeaderDLTime, now.UTC().Format(time.RFC3339Nano))
	return m
}

// headerText makes s safe for a header value: one line, bounded length.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxErrorHeader {
		s = s[:maxErrorHeader] + "…"
	}
	return s
}

// DeadLetter is one stored dead letter.
type DeadLetter struct {
	// Seq is the dead letter's sequence in the dead-letter stream; it
	// identifies the dead letter.
	Seq uint64
	// Consumer is the consumer that gave up on the event.
	Consumer string
	// Stream and StreamSeq locate the original message.
	Stream    string
	StreamSeq uint64
	// Subject is the original subject.
	Subject string
	// EventID, EventType, AggregateType, AggregateID, Sequence and
	// CorrelationID are copied from the event's headers.
	EventID       string
	EventType     string
	AggregateType string
	AggregateID   string
	Sequence      int64
	CorrelationID string
	// Error is the last handler error.
	Error string
	// Deliveries is how many times the event was delivered.
	Deliveries uint64
	// DeadAt is when the event was dead-lettered.
	DeadAt time.Time
	// Data is the encoded payload.
	Data []byte
	// Header holds the event's original headers plus the dead-letter
	// headers.
	Header nats.Header
}

// DeadLetterFilter selects dead letters. Zero fields match everything.
type DeadLetterFilter struct {
	// Consumer selects one consumer's dead letters.
	Consumer string
	// Subject selects events published on this subject (exact match).
	Subject string
	// AggregateID selects one aggregate's events.
	AggregateID string
	// EventID selects one event.
	EventID string
	// Seqs selects these dead letters (by Seq).
	Seqs []uint64
	// Since and Until bound DeadAt: Since <= DeadAt < Until.
	Since, Until time.Time
	// Limit caps the result (default 100, at most 10000).
	Limit int
}

func (f DeadLetterFilter) match(d DeadLetter) bool {
	switch {
	case f.Subject != "" && d.Subject != f.Subject,
		f.AggregateID != "" && d.AggregateID != f.AggregateID,
		f.EventID != "" && d.EventID != f.EventID,
		!f.Since.IsZero() && d.DeadAt.Before(f.Since),
		!f.Until.IsZero() && !d.DeadAt.Before(f.Until):
		return false
	}
	if len(f.Seqs) > 0 {
		for _, s := range f.Seqs {
			if s == d.Seq {
				return true
			}
		}
		return false
	}
	return true
}

// DeadLetters lists and replays the dead letters of a dead-letter stream.
// It is what the ops API's exception desk calls.
type DeadLetters struct {
	js     jetstream.JetStream
	stream string
}

// NewDeadLetters returns a handle on dead-letter stream (empty means
// DefaultDeadLetterStream).
func NewDeadLetters(js jetstream.JetStream, stream string) *DeadLetters {
	if stream == "" {
		stream = DefaultDeadLetterStream
	}
	return &DeadLetters{js: js, stream: stream}
}

// List returns the dead letters matching f, oldest first. A missing
// dead-letter stream is an empty list.
func (d *DeadLetters) List(ctx context.Context, f DeadLetterFilter) ([]DeadLetter, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	s, err := d.js.Stream(ctx, d.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("events: dead-letter stream %s: %w", d.stream, err)
	}
	subject := DeadLetterSubjectPrefix + ">"
	if f.Consumer != "" {
		subject = DeadLetterSubjectPrefix + f.Consumer
	}
	var out []DeadLetter
	seq := uint64(1)
	for len(out) < limit {
		raw, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("events: read dead letter after %d: %w", seq, err)
		}
		seq = raw.Sequence + 1
		dl := parseDeadLetter(raw)
		if f.match(dl) {
			out = append(out, dl)
		}
	}
	return out, nil
}

// ParseDeadLetter reads a message of the dead-letter stream as [DeadLetters.List]
// does, for a consumer of that stream (the ops service's projection) that
// holds the message rather than the stream: raw.Sequence is its
// dead-letter stream sequence, raw.Time its store time (the dead-letter
// time when the header lacks it).
func ParseDeadLetter(raw *jetstream.RawStreamMsg) DeadLetter { return parseDeadLetter(raw) }

func parseDeadLetter(raw *jetstream.RawStreamMsg) DeadLetter {
	h := raw.Header
	dl := DeadLetter{
		Seq:           raw.Sequence,
		Consumer:      h.Get(HeaderDLConsumer),
		Stream:        h.Get(HeaderDLStream),
		Subject:       h.Get(HeaderDLSubject),
		EventID:       h.Get(outbox.HeaderEventID),
		EventType:     h.Get(outbox.HeaderEventType),
		AggregateType: h.Get(outbox.HeaderAggregateType),
		AggregateID:   h.Get(outbox.HeaderAggregateID),
		CorrelationID: h.Get(outbox.HeaderCorrelationID),
		Error:         h.Get(HeaderDLError),
		Data:          raw.Data,
		Header:        h,
	}
	dl.StreamSeq, _ = strconv.ParseUint(h.Get(HeaderDLStreamSeq), 10, 64)
	dl.Sequence, _ = strconv.ParseInt(h.Get(outbox.HeaderSequence), 10, 64)
	dl.Deliveries, _ = strconv.ParseUint(h.Get(HeaderDLDeliveries), 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderDLTime)); err == nil {
		dl.DeadAt = t.UTC()
	} else {
		dl.DeadAt = raw.Time.UTC()
	}
	return dl
}

// Replay republishes the dead letters matching f to their original
// subjects and deletes them from the dead-letter stream, oldest first. With
// dryRun it only returns what it would replay. It returns the dead letters
// it replayed (or would replay); on error, the ones replayed before it.
//
// The republished message keeps the event id and headers, so consumers
// that already applied the event skip it and the one that dead-lettered
// it applies it once. Its Nats-Msg-Id is derived from the dead letter, so
// two concurrent replays of the same dead letter publish once.
func (d *DeadLetters) Replay(ctx context.Context, f DeadLetterFilter, dryRun bool) ([]DeadLetter, error) {
	dls, err := d.List(ctx, f)
	if err != nil || dryRun {
		return dls, err
	}
	s, err := d.js.Stream(ctx, d.stream)
	if err != nil {
		return nil, fmt.Errorf("events: dead-letter stream %s: %w", d.stream, err)
	}
	var done []DeadLetter
	for _, dl := range dls {
		if dl.Subject == "" {
			return done, fmt.Errorf("events: dead letter %d has no %s header", dl.Seq, HeaderDLSubject)
		}
		m := nats.NewMsg(dl.Subject)
		m.Data = dl.Data
		for k, vs := range dl.Header {
			if strings.HasPrefix(k, "Transload-DL-") || strings.HasPrefix(k, "Nats-") {
				continue
			}
			for _, v := range vs {
				m.Header.Add(k, v)
			}
		}
		m.Header.Set(HeaderReplayOf, strconv.FormatUint(dl.Seq, 10))
		m.Header.Set(outbox.HeaderMsgID, fmt.Sprintf("replay:%s:%d:%s", d.stream, dl.Seq, dl.EventID))
		if _, err := d.js.PublishMsg(ctx, m); err != nil {
			return done, fmt.Errorf("events: replay dead letter %d to %s: %w", dl.Seq, dl.Subject, err)
		}
		if err := s.DeleteMsg(ctx, dl.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			// Republished but still listed: a second replay publishes a
			// copy the consumers skip by event id.
			return done, fmt.Errorf("events: remove replayed dead letter %d: %w", dl.Seq, err)
		}
		done = append(done, dl)
	}
	return done, nil
}

// Count returns how many dead letters consumer has (all consumers when
// empty): the dead-letter depth KPI.
func (d *DeadLetters) Count(ctx context.Context, consumer string) (uint64, error) {
	s, err := d.js.Stream(ctx, d.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("events: dead-letter stream %s: %w", d.stream, err)
	}
	if consumer == "" {
		info, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("events: dead-letter stream info: %w", err)
		}
		return info.State.Msgs, nil
	}
	subject := DeadLetterSubjectPrefix + consumer
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("events: dead-letter stream info: %w", err)
	}
	return info.State.Subjects[subject], nil
}
