package eksemulator

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

const eventsQueue = "eks-events"

// gotEvent is an event as a consumer reads it, by the names EventBridge and
// CloudTrail give its fields.
type gotEvent struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Time       string   `json:"time"`
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     struct {
		EventVersion string `json:"eventVersion"`
		UserIdentity struct {
			Type           string `json:"type"`
			PrincipalID    string `json:"principalId"`
			ARN            string `json:"arn"`
			AccountID      string `json:"accountId"`
			AccessKeyID    string `json:"accessKeyId"`
			SessionContext *struct {
				SessionIssuer struct {
					Type        string `json:"type"`
					PrincipalID string `json:"principalId"`
					ARN         string `json:"arn"`
					AccountID   string `json:"accountId"`
					UserName    string `json:"userName"`
				} `json:"sessionIssuer"`
				Attributes struct {
					CreationDate     string `json:"creationDate"`
					MFAAuthenticated string `json:"mfaAuthenticated"`
				} `json:"attributes"`
			} `json:"sessionContext"`
		} `json:"userIdentity"`
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
		ReadOnly           *bool                      `json:"readOnly"`
		EventType          string                     `json:"eventType"`
		ManagementEvent    *bool                      `json:"managementEvent"`
		RecipientAccountID string                     `json:"recipientAccountId"`
		EventCategory      string                     `json:"eventCategory"`
	} `json:"detail"`
	messageID string
}

// eventKeys are spelled exactly so in every event (json.Unmarshal would
// forgive another case).
var eventKeys = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail",
	"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent",
	"requestParameters", "responseElements", "requestID", "eventID", "readOnly", "eventType", "managementEvent",
	"recipientAccountId", "eventCategory", "principalId", "accessKeyId", "accountId"}

// param reads one of requestParameters' members.
func (e gotEvent) param(t *testing.T, name string, v any) {
	t.Helper()
	raw, ok := e.Detail.RequestParameters[name]
	if !ok {
		t.Fatalf("%s event has no requestParameters.%s: %v", e.Detail.EventName, name, e.Detail.RequestParameters)
	}
	mustOK(t, json.Unmarshal(raw, v), "requestParameters."+name)
}

func (e gotEvent) str(t *testing.T, name string) string {
	t.Helper()
	var s string
	e.param(t, name, &s)
	return s
}

// readEvents long-polls the events queue until n events arrived, deleting each;
// it fails after within.
func readEvents(t *testing.T, s *Server, n int, within time.Duration) []gotEvent {
	t.Helper()
	c := sqsClient(s)
	url := aws.String(s.QueueURL(eventsQueue))
	deadline := time.Now().Add(within)
	var out []gotEvent
	for len(out) < n {
		wait := int32(time.Until(deadline) / time.Second)
		if wait < 0 {
			t.Fatalf("%d events arrived within %s, want %d", len(out), within, n)
		}
		got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: min(wait, 20)})
		mustOK(t, err, "ReceiveMessage")
		if len(got.Messages) == 0 && wait == 0 {
			t.Fatalf("%d events arrived within %s, want %d", len(out), within, n)
		}
		for _, m := range got.Messages {
			body := aws.ToString(m.Body)
			for _, k := range eventKeys {
				if !strings.Contains(body, `"`+k+`":`) {
					t.Fatalf("event has no %q key: %s", k, body)
				}
			}
			var e gotEvent
			mustOK(t, json.Unmarshal([]byte(body), &e), "event body")
			e.messageID = aws.ToString(m.MessageId)
			out = append(out, e)
			_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: m.ReceiptHandle})
			mustOK(t, err, "DeleteMessage")
		}
	}
	return out
}

// noEvents asserts the events queue holds nothing, delayed or not.
func noEvents(t *testing.T, s *Server) {
	t.Helper()
	if v, f, d := queueCounts(t, sqsClient(s), s.QueueURL(eventsQueue)); v+f+d != 0 {
		t.Fatalf("the events queue holds %d visible, %d in flight and %d delayed messages, want none", v, f, d)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestEventsOfEachWrite: every access-entry write EKS answers OK yields one
// event of CloudTrail's shape, naming the call's cluster, principal, policy or
// resource, the caller (the root of the default account, for credentials the
// emulator did not issue) and the answer; reads and refused writes yield none.
func TestEventsOfEachWrite(t *testing.T) {
	s := startServer(t, Config{Events: EventsConfig{Queue: eventsQueue}})
	c := eksClient(s)
	start := time.Now().Add(-time.Second)
	view := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	create, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole),
		KubernetesGroups: []string{"devs"}, Username: aws.String("me")})
	mustOK(t, err, "CreateAccessEntry")
	createID, _ := awsmiddleware.GetRequestIDMetadata(create.ResultMetadata)
	entryARN := aws.ToString(create.AccessEntry.AccessEntryArn)
	key := func(p string) *eks.AssociateAccessPolicyInput {
		return &eks.AssociateAccessPolicyInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(p), PolicyArn: aws.String(view),
			AccessScope: &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"apps"}}}
	}
	_, err = c.AssociateAccessPolicy(ctx, key(myRole))
	mustOK(t, err, "AssociateAccessPolicy")
	_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(entryARN), Tags: map[string]string{"team": "a"}})
	mustOK(t, err, "TagResource")
	_, err = c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(entryARN), TagKeys: []string{"team"}})
	mustOK(t, err, "UntagResource")
	_, err = c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), KubernetesGroups: []string{"ops"}})
	mustOK(t, err, "UpdateAccessEntry")
	_, err = c.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), PolicyArn: aws.String(view)})
	mustOK(t, err, "DisassociateAccessPolicy")
	_, err = c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	mustOK(t, err, "DescribeAccessEntry")
	_, err = c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	mustOK(t, err, "DeleteAccessEntry")
	if _, err := c.AssociateAccessPolicy(ctx, key(myRole)); err == nil {
		t.Fatal("an association with a deleted entry was accepted")
	}

	evs := readEvents(t, s, 7, 5*time.Second)
	noEvents(t, s)
	var names []string
	ids := map[string]bool{}
	for _, e := range evs {
		names = append(names, e.Detail.EventName)
		d := e.Detail
		u := d.UserIdentity
		at, err := time.Parse(time.RFC3339, e.Time)
		if err != nil || at.Before(start.Truncate(time.Second)) || at.After(time.Now()) || !strings.HasSuffix(e.Time, "Z") || d.EventTime != e.Time {
			t.Errorf("%s: time %q, eventTime %q", d.EventName, e.Time, d.EventTime)
		}
		if e.Version != "0" || e.DetailType != "AWS API Call via CloudTrail" || e.Source != "aws.eks" || e.Account != testAccount ||
			e.Region != testRegion || e.Resources == nil || len(e.Resources) != 0 || !uuidRE.MatchString(e.ID) || !uuidRE.MatchString(d.EventID) {
			t.Errorf("%s: envelope %+v", d.EventName, e)
		}
		if d.EventVersion != "1.09" || d.EventSource != "eks.amazonaws.com" || d.AWSRegion != testRegion || d.RecipientAccountID != testAccount ||
			d.EventType != "AwsApiCall" || d.EventCategory != "Management" || d.ReadOnly == nil || *d.ReadOnly ||
			d.ManagementEvent == nil || !*d.ManagementEvent || d.SourceIPAddress != "127.0.0.1" || !strings.Contains(d.UserAgent, "aws-sdk-go-v2") {
			t.Errorf("%s: detail %+v", d.EventName, d)
		}
		if u.Type != "Root" || u.PrincipalID != testAccount || u.ARN != "arn:aws:iam::111122223333:root" || u.AccountID != testAccount ||
			u.AccessKeyID != defaultCreds.AccessKeyID || u.SessionContext != nil {
			t.Errorf("%s: userIdentity %+v", d.EventName, u)
		}
		if ids[e.ID] || ids[d.EventID] {
			t.Errorf("%s: an ID seen before", d.EventName)
		}
		ids[e.ID], ids[d.EventID] = true, true
	}
	want := []string{"CreateAccessEntry", "AssociateAccessPolicy", "TagResource", "UntagResource", "UpdateAccessEntry", "DisassociateAccessPolicy", "DeleteAccessEntry"}
	if !slices.Equal(names, want) {
		t.Fatalf("events %v, want %v", names, want)
	}

	created := evs[0]
	var groups []string
	created.param(t, "kubernetesGroups", &groups)
	var resp struct {
		AccessEntry struct {
			PrincipalARN string `json:"principalArn"`
			Username     string `json:"username"`
		} `json:"accessEntry"`
	}
	mustOK(t, json.Unmarshal(created.Detail.ResponseElements, &resp), "CreateAccessEntry responseElements")
	if created.str(t, "name") != testCluster || created.str(t, "principalArn") != myRole || created.str(t, "username") != "me" ||
		!slices.Equal(groups, []string{"devs"}) || resp.AccessEntry.PrincipalARN != myRole || resp.AccessEntry.Username != "me" ||
		created.Detail.RequestID != createID || createID == "" {
		t.Errorf("CreateAccessEntry event: %s, %s, request ID %s (the SDK saw %s)", created.Detail.RequestParameters, created.Detail.ResponseElements, created.Detail.RequestID, createID)
	}
	var scope struct {
		Type       string   `json:"type"`
		Namespaces []string `json:"namespaces"`
	}
	assoc := evs[1]
	assoc.param(t, "accessScope", &scope)
	if assoc.str(t, "name") != testCluster || assoc.str(t, "principalArn") != myRole || assoc.str(t, "policyArn") != view ||
		scope.Type != "namespace" || !slices.Equal(scope.Namespaces, []string{"apps"}) {
		t.Errorf("AssociateAccessPolicy event: %s", assoc.Detail.RequestParameters)
	}
	var tags map[string]string
	var tagKeys []string
	evs[2].param(t, "tags", &tags)
	evs[3].param(t, "tagKeys", &tagKeys)
	if evs[2].str(t, "resourceArn") != entryARN || tags["team"] != "a" || evs[3].str(t, "resourceArn") != entryARN || !slices.Equal(tagKeys, []string{"team"}) ||
		string(evs[2].Detail.ResponseElements) != "null" {
		t.Errorf("tag events: %s (answer %s), %s", evs[2].Detail.RequestParameters, evs[2].Detail.ResponseElements, evs[3].Detail.RequestParameters)
	}
	evs[4].param(t, "kubernetesGroups", &groups)
	if evs[4].str(t, "principalArn") != myRole || !slices.Equal(groups, []string{"ops"}) {
		t.Errorf("UpdateAccessEntry event: %s", evs[4].Detail.RequestParameters)
	}
	if evs[5].str(t, "policyArn") != view || evs[5].str(t, "principalArn") != myRole {
		t.Errorf("DisassociateAccessPolicy event: %s", evs[5].Detail.RequestParameters)
	}
	if evs[6].str(t, "name") != testCluster || evs[6].str(t, "principalArn") != myRole || string(evs[6].Detail.ResponseElements) != "null" {
		t.Errorf("DeleteAccessEntry event: %s, answer %s", evs[6].Detail.RequestParameters, evs[6].Detail.ResponseElements)
	}
	if s.EventsPublished() != 7 || s.EventsDropped() != 0 {
		t.Errorf("published %d, dropped %d; want 7 and 0", s.EventsPublished(), s.EventsDropped())
	}
}

// TestEventsOfAnAssumedRole: a write with credentials from AssumeRole is the
// role session's, in the role's account, and its event goes to the one queue
// of the default account.
func TestEventsOfAnAssumedRole(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster}, {Name: testCluster, Account: otherAccount}},
		Events: EventsConfig{Queue: eventsQueue}})
	role := roleARN(otherAccount, "operator")
	creds := assumeRole(t, s, role, "op-session")
	createEntry(t, eksClientIn(s, testRegion, creds), &eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(otherAccount, "dev"))})
	evs := readEvents(t, s, 1, 5*time.Second)
	e, u := evs[0], evs[0].Detail.UserIdentity
	roleID := s.PrincipalID(role)
	if e.Account != otherAccount || e.Detail.RecipientAccountID != otherAccount || e.str(t, "principalArn") != roleARN(otherAccount, "dev") {
		t.Errorf("event of account %s (recipient %s) for %s", e.Account, e.Detail.RecipientAccountID, e.str(t, "principalArn"))
	}
	if u.Type != "AssumedRole" || u.PrincipalID != roleID+":op-session" || u.ARN != "arn:aws:sts::444455556666:assumed-role/operator/op-session" ||
		u.AccountID != otherAccount || u.AccessKeyID != creds.AccessKeyID || u.SessionContext == nil {
		t.Fatalf("userIdentity %+v", u)
	}
	is, attrs := u.SessionContext.SessionIssuer, u.SessionContext.Attributes
	created, err := time.Parse(time.RFC3339, attrs.CreationDate)
	if is.Type != "Role" || is.PrincipalID != roleID || is.ARN != role || is.AccountID != otherAccount || is.UserName != "operator" ||
		attrs.MFAAuthenticated != "false" || err != nil || time.Since(created) > time.Minute {
		t.Errorf("sessionContext %+v", *u.SessionContext)
	}
}

// TestEventsLostAndDuplicated: with loss 1 no event arrives; with duplicates 1
// each arrives twice, as two messages of one event.
func TestEventsLostAndDuplicated(t *testing.T) {
	s := startServer(t, Config{Events: EventsConfig{Queue: eventsQueue, Loss: 1}})
	c := eksClient(s)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(testAccount, "lost"))})
	if s.EventsDropped() != 1 || s.EventsPublished() != 0 {
		t.Fatalf("loss 1: dropped %d, published %d", s.EventsDropped(), s.EventsPublished())
	}
	noEvents(t, s)
	if w := s.Writes(roleARN(testAccount, "lost")); len(w) != 1 || !w[0].Event.IsZero() {
		t.Fatalf("the journal of a write whose event was lost: %+v; want one write with no delivery time", w)
	}

	s.SetEvents(EventsConfig{Queue: eventsQueue, Duplicates: 1})
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(testAccount, "twice"))})
	evs := readEvents(t, s, 2, 5*time.Second)
	if evs[0].Detail.EventID != evs[1].Detail.EventID || evs[0].ID != evs[1].ID || evs[0].messageID == evs[1].messageID ||
		evs[0].str(t, "principalArn") != roleARN(testAccount, "twice") {
		t.Fatalf("copies: event IDs %s and %s, messages %s and %s", evs[0].Detail.EventID, evs[1].Detail.EventID, evs[0].messageID, evs[1].messageID)
	}
	if s.EventsPublished() != 2 || s.EventsDropped() != 1 {
		t.Fatalf("published %d, dropped %d; want 2 and 1", s.EventsPublished(), s.EventsDropped())
	}
}

// TestEventsDelayed: an event is held back by Delay, as a delayed message.
func TestEventsDelayed(t *testing.T) {
	s := startServer(t, Config{Events: EventsConfig{Queue: eventsQueue, Delay: time.Second}})
	written := time.Now()
	createEntry(t, eksClient(s), &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	if v, f, d := queueCounts(t, sqsClient(s), s.QueueURL(eventsQueue)); v != 0 || f != 0 || d != 1 {
		t.Fatalf("just after the write: %d visible, %d in flight, %d delayed; want 0, 0, 1", v, f, d)
	}
	readEvents(t, s, 1, 5*time.Second)
	if d := time.Since(written); d < 900*time.Millisecond || d > 3*time.Second {
		t.Fatalf("the event of a 1 s delay arrived after %s", d)
	}
	if w := s.Writes(myRole); len(w) != 1 || w[0].Event.Sub(w[0].Time) != time.Second {
		t.Fatalf("the journal of the write: %+v; want its event delivered 1 s after it", w)
	}
}

// TestEventsReordered: a random extra delay per event makes events arrive in
// another order than their writes, all within the delay's bound.
func TestEventsReordered(t *testing.T) {
	s := startServer(t, Config{Events: EventsConfig{Queue: eventsQueue, MaxExtraDelay: 2 * time.Second}})
	c := eksClient(s)
	var want []string
	for _, n := range []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"} {
		want = append(want, roleARN(testAccount, n))
		createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(want[len(want)-1])})
	}
	written := time.Now()
	var got []string
	for _, e := range readEvents(t, s, len(want), 5*time.Second) {
		got = append(got, e.str(t, "principalArn"))
	}
	if d := time.Since(written); d > 3*time.Second {
		t.Errorf("the last event came %s after the writes, with a 2 s bound", d)
	}
	if slices.Equal(got, want) || !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Fatalf("events arrived as %v; want every write's event, out of order", got)
	}
}

// TestEventsQueueUnreachable: while SQS is unreachable every call is a 503,
// and the events of the writes made meanwhile are waiting when it is back.
func TestEventsQueueUnreachable(t *testing.T) {
	s := startServer(t, Config{Events: EventsConfig{Queue: eventsQueue}})
	s.SetEvents(EventsConfig{Queue: eventsQueue, Unreachable: true})
	_, err := sqsClient(s).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.QueueURL(eventsQueue))})
	wantCode(t, err, "ServiceUnavailable")
	wantHTTPStatus(t, err, http.StatusServiceUnavailable)
	createEntry(t, eksClient(s), &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	if s.EventsPublished() != 1 {
		t.Fatalf("published %d events while unreachable, want 1", s.EventsPublished())
	}
	s.SetEvents(EventsConfig{Queue: eventsQueue})
	if e := readEvents(t, s, 1, 5*time.Second)[0]; e.Detail.EventName != "CreateAccessEntry" {
		t.Fatalf("event %s after the queue came back", e.Detail.EventName)
	}
}

// TestEventsOffByDefault: without a queue, writes publish nothing and there is
// no queue.
func TestEventsOffByDefault(t *testing.T) {
	s := startServer(t, Config{})
	createEntry(t, eksClient(s), &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	out, err := sqsClient(s).ListQueues(ctx, &sqs.ListQueuesInput{})
	mustOK(t, err, "ListQueues")
	if s.EventsPublished() != 0 || s.EventsDropped() != 0 || len(out.QueueUrls) != 0 {
		t.Fatalf("published %d, dropped %d, queues %v", s.EventsPublished(), s.EventsDropped(), out.QueueUrls)
	}
}

func debugEvents(t *testing.T, s *Server, method, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+"/_emulator/events", strings.NewReader(body))
	mustOK(t, err, "request")
	resp, err := http.DefaultClient.Do(req)
	mustOK(t, err, method+" /_emulator/events")
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	mustOK(t, json.Unmarshal(b, &out), "debug answer "+string(b))
	return resp.StatusCode, out
}

// TestEventsDebugAPI: the settings read and replaced over HTTP; a PUT that
// leaves the queue out keeps it; bad settings are refused with the reason.
func TestEventsDebugAPI(t *testing.T) {
	s := startServer(t, Config{Events: EventsConfig{Queue: eventsQueue}})
	status, got := debugEvents(t, s, http.MethodPut, `{"loss": 1, "maxExtraDelay": "250ms"}`)
	if status != http.StatusOK || got["queue"] != eventsQueue || got["loss"] != 1.0 || got["maxExtraDelay"] != "250ms" {
		t.Fatalf("PUT: %d %v", status, got)
	}
	if e := s.Events(); e.Queue != eventsQueue || e.Loss != 1 || e.MaxExtraDelay != 250*time.Millisecond {
		t.Fatalf("Events() = %+v", e)
	}
	createEntry(t, eksClient(s), &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	if _, got = debugEvents(t, s, http.MethodGet, ""); got["dropped"] != 1.0 || got["published"] != 0.0 {
		t.Fatalf("GET after a lost event: %v", got)
	}
	for body, want := range map[string]string{
		`{"loss": 2}`:                   "loss 2 must be between 0 and 1",
		`{"delay": "soon"}`:             "delay",
		`{"queue": "", "delay": "1s"}`:  "need a queue",
		`{"queue": "a.fifo"}`:           "FIFO queues are not emulated",
		`{"duplicates": -0.5}`:          "duplicates -0.5",
		`{"maxExtraDelay": "-1s"}`:      "must not be negative",
		`{"queue": "x", "loss": "all"}`: "loss",
	} {
		status, got := debugEvents(t, s, http.MethodPut, body)
		if msg, _ := got["message"].(string); status != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("PUT %s: %d %v, want 400 mentioning %q", body, status, got, want)
		}
	}
	if e := s.Events(); e.Queue != eventsQueue || e.Loss != 1 {
		t.Fatalf("refused PUTs changed the settings: %+v", e)
	}
	if status, _ := debugEvents(t, s, http.MethodPut, `{"unreachable": true}`); status != http.StatusOK {
		t.Fatalf("PUT unreachable: %d", status)
	}
	_, err := sqsClient(s).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(eventsQueue)})
	wantHTTPStatus(t, err, http.StatusServiceUnavailable)
}

func TestLoadConfigEvents(t *testing.T) {
	cfg, err := LoadConfig(writeFile(t, "events:\n  queue: q1\n  delay: 2s\n  maxExtraDelay: 500ms\n  loss: 0.25\n  duplicates: 0.5\n"))
	mustOK(t, err, "LoadConfig")
	if want := (EventsConfig{Queue: "q1", Delay: 2 * time.Second, MaxExtraDelay: 500 * time.Millisecond, Loss: 0.25, Duplicates: 0.5}); cfg.Events != want {
		t.Fatalf("events = %+v, want %+v", cfg.Events, want)
	}
	s, err := New(cfg)
	mustOK(t, err, "New")
	if s.queues[queueKey{testAccount, testRegion, "q1"}] == nil {
		t.Fatal("the events queue does not exist at start")
	}
	for content, want := range map[string]string{
		"events:\n  queue: q1\n  loss: 1.5\n":      "events: loss 1.5 must be between 0 and 1",
		"events:\n  queue: q1\n  delay: later\n":   "events.delay",
		"events:\n  queue: q.fifo\n":               "FIFO",
		"events:\n  duplicates: 0.1\n":             "need a queue",
		"events:\n  queue: q1\n  unreachable: 1\n": "unknown field",
	} {
		if _, err := LoadConfig(writeFile(t, content)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadConfig(%q) = %v, want an error mentioning %q", content, err, want)
		}
	}
}
