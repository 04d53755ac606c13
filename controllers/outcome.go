package controllers

import (
	"fmt"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// A step of a reconcile returns nil to go on, or an error to stop the pass there.
// An *outcome is the error of a pass that stops for a known reason: it carries the
// condition reason and message, how the object waits, and when to look again.
// Any other error is the API server's, returned as it is for the workqueue's
// backoff. One place per controller (summarize) turns outcomes into conditions,
// events and the result.
type outcome struct {
	kind    outcomeKind
	reason  string
	message string
	// after is when to look again: for kindStall, 0 waits for a change of the
	// object; for kindRetry, 0 takes the backoff of the time spent Reconciling.
	after time.Duration
	// err is the AWS error behind the outcome, if any.
	err error
	// terminal: only a change of the spec can help; the workqueue stops retrying.
	terminal bool
	// quiet: for kindDefer, the conditions stay as they are.
	quiet bool
}

// outcomeKind is how an object that stops short of Ready waits.
type outcomeKind int

const (
	// kindWait: waiting on EKS to show a change (eventual consistency); Reconciling,
	// checked again with a backoff, and Stalled as well after --stall-after.
	kindWait outcomeKind = iota
	// kindRetry: Reconciling, checked again after a set time; never Stalled
	// (throttling, a cluster being updated).
	kindRetry
	// kindStall: a person has to act; Stalled.
	kindStall
	// kindError: a transient AWS failure; Reconciling, and the error goes to the
	// workqueue, which retries with backoff.
	kindError
	// kindDefer: nothing to do now, or no budget to do it with; looked at again
	// after a set time (or sooner, when the budget's scheduler says so).
	kindDefer
	// kindDone: the object asks for nothing more in EKS (it expired); Ready with
	// the outcome's reason, and looked at again only when it changes.
	kindDone
)

func (o *outcome) Error() string {
	if o.err != nil {
		return o.reason + ": " + o.message + ": " + o.err.Error()
	}
	return o.reason + ": " + o.message
}

func (o *outcome) Unwrap() error { return o.err }

// stall stops the pass until a person acts; after is when to check again (0: only
// when the object changes).
func stall(reason string, after time.Duration, format string, args ...any) error {
	return &outcome{kind: kindStall, reason: reason, message: fmt.Sprintf(format, args...), after: after}
}

// done stops the pass with the object Ready for reason: it asks EKS for nothing
// more.
func done(reason, format string, args ...any) error {
	return &outcome{kind: kindDone, reason: reason, message: fmt.Sprintf(format, args...)}
}

// invalid stops the pass for good: EKS refused the spec itself.
func invalid(reason string, err error, format string, args ...any) error {
	return &outcome{kind: kindStall, reason: reason, message: fmt.Sprintf(format, args...), err: err, terminal: true}
}

// waitFor stops the pass while EKS catches up.
func waitFor(reason, format string, args ...any) error {
	return &outcome{kind: kindWait, reason: reason, message: fmt.Sprintf(format, args...)}
}

// retryAfter stops the pass and checks again after a while (0: the backoff).
func retryAfter(reason string, after time.Duration, format string, args ...any) error {
	return &outcome{kind: kindRetry, reason: reason, message: fmt.Sprintf(format, args...), after: after}
}

// failed stops the pass on a transient AWS error, for the workqueue to retry.
func failed(reason string, err error, message string) error {
	return &outcome{kind: kindError, reason: reason, message: message, err: err}
}

// pendingEvents are the events of a pass, recorded once it is over.
type pendingEvents []pendingEvent

type pendingEvent struct {
	eventType, reason, message string
}

func (e *pendingEvents) add(eventType, reason, format string, args ...any) {
	*e = append(*e, pendingEvent{eventType, reason, fmt.Sprintf(format, args...)})
}

func (e pendingEvents) record(rec events.EventRecorder, obj runtime.Object) {
	if rec == nil {
		return
	}
	for _, ev := range e {
		rec.Eventf(obj, nil, ev.eventType, ev.reason, "Reconcile", "%s", eventNote(ev.message))
	}
}

// maxEventNote is the longest note the API server accepts on an event.
const maxEventNote = 1024

// eventNote cuts a message to what an event may hold, on a character boundary,
// marking the cut: a longer one is refused, and the event lost.
func eventNote(msg string) string {
	if len(msg) <= maxEventNote {
		return msg
	}
	const mark = " …"
	cut := maxEventNote - len(mark)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + mark
}
