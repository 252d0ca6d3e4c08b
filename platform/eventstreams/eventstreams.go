// Package eventstreams declares the JetStream streams and the event
// subjects of Transload, once, and ensures the streams exist.
//
// Producers and consumers take their values from here: a service's outbox
// events name their subject with one of the subject constants, its relay
// ensures its stream ([Order], [Inventory], ...), and a consumer binds to
// the declared stream and filters on the declared subjects. A subject
// cannot drift between the service that publishes it and the services
// that consume it, and two services that both ensure a stream (its
// producer, and a consumer that may start first) give it one
// configuration.
//
// The names and subjects are persisted in JetStream and named in the
// event contracts (transload/*/v1/events.proto): changing one is a
// breaking change, not a refactoring.
package eventstreams

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultDuplicateWindow is the JetStream de-duplication window of a
// stream whose DuplicateWindow is zero. A relay that crashes after a
// publish and restarts within the window republishes without creating a
// duplicate message.
const DefaultDuplicateWindow = 10 * time.Minute

// Stream declares a JetStream stream and the events published into it.
type Stream struct {
	// Name is the stream name, e.g. "TRANSLOAD_ORDER".
	Name string
	// Subjects are the subject filters (wildcards allowed) the stream
	// captures, e.g. "transload.order.>".
	Subjects []string
	// Events are the subjects of the events published into the stream;
	// every one is captured by Subjects.
	Events []string
	// Description is shown by NATS tooling.
	Description string
	// DuplicateWindow is how long JetStream remembers message ids;
	// default DefaultDuplicateWindow, capped at MaxAge.
	DuplicateWindow time.Duration
	// MaxAge drops messages older than this; 0 keeps them (limits
	// retention).
	MaxAge time.Duration
	// Replicas is the number of replicas in a cluster; 0 means 1, at
	// most MaxReplicas. The declarations leave it 0; a service sets it
	// from its environment with [Settings.Apply].
	Replicas int
}

// MaxReplicas is the most copies JetStream keeps of a stream.
const MaxReplicas = 5

// Settings is the stream configuration a service that ensures streams
// (through its outbox relay or its consumers) reads from its
// environment. A service's configuration struct holds it as a field
// (platform/config walks nested structs), and the service passes its
// streams through [Settings.Apply] before ensuring them.
type Settings struct {
	// Replicas is how many copies of each stream the service creates in a
	// NATS JetStream cluster: 1 on a single node (make run), 3 on a
	// three-node cluster, where a stream keeps its messages and accepts
	// publishes while one node is down. Every service of a deployment
	// must use the same value: the producer's relay updates its stream to
	// its own value. More replicas than the cluster has nodes is refused
	// by JetStream: the ensurer logs it and retries, nothing is
	// published meanwhile.
	Replicas int `env:"NATS_STREAM_REPLICAS" default:"1"`
}

// Apply returns copies of streams with s's replica count.
func (s Settings) Apply(streams ...Stream) []Stream {
	out := make([]Stream, len(streams))
	for i, st := range streams {
		st.Replicas = s.Replicas
		out[i] = st
	}
	return out
}

// ErrInvalidStream is wrapped by [Stream.Validate] and by everything that
// validates a stream before using it.
var ErrInvalidStream = errors.New("eventstreams: invalid stream")

// Validate reports whether s can be created: a name JetStream accepts, at
// least one well-formed subject filter, and events that are publishable
// subjects captured by those filters. The error wraps [ErrInvalidStream].
func (s Stream) Validate() error {
	if s.Name == "" || strings.ContainsAny(s.Name, ".*>/\\ \t\r\n") {
		return fmt.Errorf("%w: name %q must be non-empty without '.', '*', '>', path separators or whitespace", ErrInvalidStream, s.Name)
	}
	if len(s.Subjects) == 0 {
		return fmt.Errorf("%w: stream %s captures no subject", ErrInvalidStream, s.Name)
	}
	if s.Replicas < 0 || s.Replicas > MaxReplicas {
		return fmt.Errorf("%w: stream %s: %d replicas (NATS_STREAM_REPLICAS) is not between 1 and %d", ErrInvalidStream, s.Name, s.Replicas, MaxReplicas)
	}
	for _, f := range s.Subjects {
		if !validFilter(f) {
			return fmt.Errorf("%w: stream %s: %q is not a NATS subject filter", ErrInvalidStream, s.Name, f)
		}
	}
	for _, ev := range s.Events {
		if !validFilter(ev) || strings.ContainsAny(ev, "*>") {
			return fmt.Errorf("%w: stream %s: event subject %q is not publishable", ErrInvalidStream, s.Name, ev)
		}
		if !s.Captures(ev) {
			return fmt.Errorf("%w: stream %s does not capture its event subject %q", ErrInvalidStream, s.Name, ev)
		}
	}
	return nil
}

// Captures reports whether every message published on subject lands in
// s: one of its subject filters matches every subject that subject
// matches (subject may be a filter with wildcards, like a consumer's).
// JetStream requires a consumer's filter subjects to be captured by the
// stream it binds to.
func (s Stream) Captures(subject string) bool {
	for _, f := range s.Subjects {
		if covers(f, subject) {
			return true
		}
	}
	return false
}

// Overlaps reports whether some subject is captured by both s and o.
// JetStream refuses to create a stream that overlaps an existing one.
func (s Stream) Overlaps(o Stream) bool {
	for _, a := range s.Subjects {
		for _, b := range o.Subjects {
			if filtersOverlap(a, b) {
				return true
			}
		}
	}
	return false
}

// validFilter reports whether f is a subject or subject filter: non-empty
// tokens without whitespace, '*' and '>' only as whole tokens and '>'
// only last.
func validFilter(f string) bool {
	if f == "" {
		return false
	}
	toks := strings.Split(f, ".")
	for i, tok := range toks {
		switch {
		case tok == "", strings.ContainsAny(tok, " \t\r\n"):
			return false
		case tok == ">" && i != len(toks)-1:
			return false
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, "*>"):
			return false
		}
	}
	return true
}

// covers reports whether every subject that matches sub also matches
// filter.
func covers(filter, sub string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(sub, ".")
	for i, x := range ft {
		if i >= len(st) {
			return false
		}
		y := st[i]
		switch {
		case x == ">":
			// sub has at least one token left, which '>' matches.
			return true
		case y == ">":
			return false
		case x == "*":
		case x != y:
			// A literal covers only itself, not a '*'.
			return false
		}
	}
	return len(ft) == len(st)
}

// filtersOverlap reports whether some subject matches both filters a and
// b (a subject without wildcards matches only itself).
func filtersOverlap(a, b string) bool {
	at, bt := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(at) && i < len(bt); i++ {
		x, y := at[i], bt[i]
		switch {
		case x == ">" || y == ">":
			// '>' matches one or more tokens, and both sides have one here.
			return true
		case x == "*" || y == "*" || x == y:
		default:
			return false
		}
	}
	return len(at) == len(bt)
}
