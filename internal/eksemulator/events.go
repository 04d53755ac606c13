package eksemulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// EventsConfig makes the emulator publish EKS's CloudTrail events, as
// EventBridge delivers them ("AWS API Call via CloudTrail", source aws.eks), to
// one of its SQS queues: one message for every write to access entries,
// policy associations, tags or the cluster's configuration that EKS answered
// OK, whoever made it. The zero value publishes nothing.
type EventsConfig struct {
	// Queue is the name of the queue events go to, in the default account and
	// the first cluster's region; it exists from the start. Events of every
	// account's clusters go there, as if all were forwarded to one event bus.
	Queue string `json:"queue"`
	// Delay holds each event back this long before it can be received, plus a
	// random part up to MaxExtraDelay drawn for each event, so that events may
	// arrive in another order than their writes were made.
	Delay         time.Duration `json:"delay"`
	MaxExtraDelay time.Duration `json:"maxExtraDelay"`
	// Loss is the share (0..1) of events never delivered; Duplicates the share
	// of those delivered twice (EventBridge delivers at least once).
	Loss       float64 `json:"loss"`
	Duplicates float64 `json:"duplicates"`
	// Unreachable answers every SQS call with 503 ServiceUnavailable. Events
	// are still queued meanwhile: the queue lives in AWS, the network to it is down.
	Unreachable bool `json:"unreachable"`
}

// eventOps are the writes that are published: the journal's.
var eventOps = writeOps

// checkEvents refuses settings the emulator cannot honour.
func checkEvents(e EventsConfig) error {
	switch {
	case e.Queue != "" && !queueNameRE.MatchString(e.Queue):
		return fmt.Errorf("queue %q must be 1 to 80 letters, digits, hyphens or underscores (a standard queue: FIFO queues are not emulated)", e.Queue)
	case e.Delay < 0 || e.MaxExtraDelay < 0:
		return fmt.Errorf("delay %s and maxExtraDelay %s must not be negative", e.Delay, e.MaxExtraDelay)
	case !(e.Loss >= 0 && e.Loss <= 1):
		return fmt.Errorf("loss %v must be between 0 and 1", e.Loss)
	case !(e.Duplicates >= 0 && e.Duplicates <= 1):
		return fmt.Errorf("duplicates %v must be between 0 and 1", e.Duplicates)
	case e.Queue == "" && (e.Delay != 0 || e.MaxExtraDelay != 0 || e.Loss != 0 || e.Duplicates != 0):
		return fmt.Errorf("delay, maxExtraDelay, loss and duplicates apply to events, which need a queue to go to")
	}
	return nil
}

func clampEvents(e EventsConfig) EventsConfig {
	e.Delay, e.MaxExtraDelay = max(e.Delay, 0), max(e.MaxExtraDelay, 0)
	clamp := func(v float64) float64 {
		if !(v > 0) {
			return 0
		}
		return math.Min(v, 1)
	}
	e.Loss, e.Duplicates = clamp(e.Loss), clamp(e.Duplicates)
	return e
}

// Events returns the current event settings.
func (s *Server) Events() EventsConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

// SetEvents replaces the event settings. Out-of-range numbers are clamped; the
// queue name is not checked (LoadConfig, New and the debug API check it). The
// queue is created if it does not exist; messages already queued stay.
func (s *Server) SetEvents(e EventsConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = clampEvents(e)
	s.ensureEventsQueue(time.Now())
}

// EventsPublished is how many event messages were put in the queue, each copy
// of a duplicated event counted.
func (s *Server) EventsPublished() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eventsPublished
}

// EventsDropped is how many events were lost: by Loss, or because the events
// queue had been deleted.
func (s *Server) EventsDropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eventsDropped
}

func (s *Server) eventsQueueKey() queueKey {
	return queueKey{s.defaultAccount, s.defaultRegion, s.events.Queue}
}

// ensureEventsQueue creates the events queue if it is missing. Caller holds s.mu.
func (s *Server) ensureEventsQueue(now time.Time) {
	if s.events.Queue != "" && s.queues[s.eventsQueueKey()] == nil {
		s.newQueue(s.eventsQueueKey(), nil, now)
	}
}

// publishEvent queues the event of a write answered OK, out being the answer,
// and returns when its first copy becomes receivable (zero: no event). That
// time is its delivery, so no timer is needed. Caller holds s.mu.
func (s *Server) publishEvent(c *call, out any) (delivered time.Time) {
	if s.events.Queue == "" || !eventOps[c.op] {
		return time.Time{}
	}
	q := s.queues[s.eventsQueueKey()]
	// Draw only for the settings that are on, so switching one on does not
	// shift what another test sees.
	if q == nil || s.events.Loss > 0 && s.rngEvents.Float64() < s.events.Loss {
		s.eventsDropped++
		return time.Time{}
	}
	copies := 1
	if s.events.Duplicates > 0 && s.rngEvents.Float64() < s.events.Duplicates {
		copies = 2
	}
	body, err := json.Marshal(s.cloudTrailEvent(c, out))
	if err != nil {
		s.eventsDropped++
		return time.Time{}
	}
	for range copies {
		at := c.now.Add(s.events.Delay)
		if s.events.MaxExtraDelay > 0 {
			at = at.Add(time.Duration(s.rngEvents.Int64N(int64(s.events.MaxExtraDelay) + 1)))
		}
		s.enqueue(q, string(body), eventBridgeSender, at, at)
		s.eventsPublished++
		if delivered.IsZero() || at.Before(delivered) {
			delivered = at
		}
	}
	return delivered
}

type eventBridgeEvent struct {
	Version    string           `json:"version"`
	ID         string           `json:"id"`
	DetailType string           `json:"detail-type"`
	Source     string           `json:"source"`
	Account    string           `json:"account"`
	Time       string           `json:"time"`
	Region     string           `json:"region"`
	Resources  []string         `json:"resources"`
	Detail     cloudTrailRecord `json:"detail"`
}

type cloudTrailRecord struct {
	EventVersion       string                     `json:"eventVersion"`
	UserIdentity       cloudTrailIdentity         `json:"userIdentity"`
	EventTime          string                     `json:"eventTime"`
	EventSource        string                     `json:"eventSource"`
	EventName          string                     `json:"eventName"`
	AWSRegion          string                     `json:"awsRegion"`
	SourceIPAddress    string                     `json:"sourceIPAddress"`
	UserAgent          string                     `json:"userAgent"`
	RequestParameters  map[string]json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage            `json:"responseElements"`
	RequestID          string                     `json:"requestID"`
	EventID            string                     `json:"eventID"`
	ReadOnly           bool                       `json:"readOnly"`
	EventType          string                     `json:"eventType"`
	ManagementEvent    bool                       `json:"managementEvent"`
	RecipientAccountID string                     `json:"recipientAccountId"`
	EventCategory      string                     `json:"eventCategory"`
}

type cloudTrailIdentity struct {
	Type           string                 `json:"type"`
	PrincipalID    string                 `json:"principalId"`
	ARN            string                 `json:"arn"`
	AccountID      string                 `json:"accountId"`
	AccessKeyID    string                 `json:"accessKeyId"`
	SessionContext *cloudTrailSessionInfo `json:"sessionContext,omitempty"`
}

type cloudTrailSessionInfo struct {
	SessionIssuer struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		UserName    string `json:"userName"`
	} `json:"sessionIssuer"`
	WebIDFederationData struct{} `json:"webIdFederationData"`
	Attributes          struct {
		CreationDate     string `json:"creationDate"`
		MFAAuthenticated string `json:"mfaAuthenticated"`
	} `json:"attributes"`
}

// cloudTrailEvent is the event of a write: CloudTrail's record of the call as
// EventBridge wraps it. Caller holds s.mu.
func (s *Server) cloudTrailEvent(c *call, out any) eventBridgeEvent {
	at := c.now.UTC().Format(time.RFC3339)
	who := c.caller
	return eventBridgeEvent{
		Version: "0", ID: uuidFrom(s.rngSQS), DetailType: "AWS API Call via CloudTrail", Source: "aws.eks",
		Account: who.account, Time: at, Region: who.region, Resources: []string{},
		Detail: cloudTrailRecord{
			EventVersion: "1.09", UserIdentity: identityOf(who), EventTime: at,
			EventSource: "eks.amazonaws.com", EventName: c.op, AWSRegion: who.region,
			SourceIPAddress: c.sourceIP, UserAgent: c.userAgent,
			RequestParameters: requestParameters(c), ResponseElements: responseElements(out),
			RequestID: c.requestID, EventID: uuidFrom(s.rngSQS),
			EventType: "AwsApiCall", ManagementEvent: true, RecipientAccountID: who.account, EventCategory: "Management",
		},
	}
}

// identityOf is CloudTrail's userIdentity of a caller: the role session for
// credentials from AssumeRole, else the account's root (as GetCallerIdentity says).
func identityOf(who caller) cloudTrailIdentity {
	arn, id := callerIdentity(who)
	if who.session == nil {
		return cloudTrailIdentity{Type: "Root", PrincipalID: id, ARN: arn, AccountID: who.account, AccessKeyID: who.accessKey}
	}
	sess := who.session
	info := &cloudTrailSessionInfo{}
	is := &info.SessionIssuer
	is.Type, is.ARN, is.AccountID, is.UserName = "Role", sess.role.ARN, sess.role.Account, sess.role.Name
	is.PrincipalID, _, _ = strings.Cut(sess.assumedRoleID, ":")
	info.Attributes.CreationDate = sess.created.UTC().Format(time.RFC3339)
	info.Attributes.MFAAuthenticated = "false"
	return cloudTrailIdentity{Type: "AssumedRole", PrincipalID: id, ARN: arn, AccountID: sess.role.Account,
		AccessKeyID: who.accessKey, SessionContext: info}
}

// requestParameters are the call's URI labels under EKS's label names, its
// JSON body's members as sent, and UntagResource's tagKeys.
func requestParameters(c *call) map[string]json.RawMessage {
	params := map[string]json.RawMessage{}
	_ = json.Unmarshal(c.body, &params) // the call succeeded: the body, if any, is an object
	label := func(name, v string) {
		if v != "" {
			params[name], _ = json.Marshal(v)
		}
	}
	label("name", c.cluster)
	label("principalArn", c.principal)
	label("policyArn", c.policy)
	label("resourceArn", c.resource)
	if keys := c.query["tagKeys"]; len(keys) > 0 {
		params["tagKeys"], _ = json.Marshal(keys)
	}
	return params
}

// responseElements is the answer's JSON, or null for an empty answer (a
// delete's, a tag write's), as CloudTrail records it.
func responseElements(out any) json.RawMessage {
	if out == nil {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil || bytes.Equal(b, []byte("{}")) {
		return nil
	}
	return b
}
