package eksemulator

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The emulator serves a small SQS at its own address, in SQS's JSON protocol
// (POST with X-Amz-Target: AmazonSQS.<Operation>, application/x-amz-json-1.0):
// the queue that EKS's events are delivered to (events.go), and any queue a
// test makes. Standard queues only; no FIFO, message attributes, queue
// policies, tags or dead-letter queues. Any caller may use any queue through its
// URL, as if every queue policy allowed it. SQS calls are counted in Calls but
// never delayed, throttled or faulted by Faults; Events.Unreachable answers
// them all with 503.
//
// Like SQS, a received message is invisible for the visibility timeout and
// comes back if not deleted, with a new receipt handle at each receive. SQS asks
// for the latest receipt handle to delete a message; a delete with an older one
// succeeds but deletes nothing here (the message comes back), which SQS's
// documentation allows, and a delete of a message already deleted succeeds too.

const sqsTargetPrefix = "AmazonSQS."

const (
	sqsContentType       = "application/x-amz-json-1.0"
	maxSQSBody           = 4 << 20 // a 1 MiB message, escaped in JSON, fits
	maxWaitSeconds       = 20
	maxVisibilitySeconds = 43200
	maxDelaySeconds      = 900
	maxBatchEntries      = 10
	queueReuseDelay      = 60 * time.Second // after DeleteQueue, before the name may be used again
	purgeInterval        = 60 * time.Second
	// eventBridgeSender is the SenderId of the messages EventBridge delivers.
	eventBridgeSender = "events.amazonaws.com"
)

var (
	queueNameRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	batchEntryIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
)

type queueKey struct{ account, region, name string }

type queue struct {
	key        queueKey
	arn        string
	createdAt  time.Time
	modifiedAt time.Time
	purgedAt   time.Time
	attrs      map[string]int // the settable attributes, all present
	messages   []*message     // in the order sent
	byID       map[string]*message
}

type message struct {
	id, body, md5 string
	senderID      string
	sentAt        time.Time
	// visibleAt is when the message may next be received: after its delivery
	// delay (or the event's delivery time) or its visibility timeout.
	visibleAt     time.Time
	received      int
	firstReceived time.Time
	handle        string // the latest receipt handle; "" before the first receive
}

// queueAttribute is one attribute a queue is created or changed with, in seconds
// or bytes.
type queueAttribute struct {
	name          string
	min, max, def int
}

var settableAttributes = []queueAttribute{
	{"DelaySeconds", 0, maxDelaySeconds, 0},
	{"MaximumMessageSize", 1024, 1 << 20, 1 << 20},
	{"MessageRetentionPeriod", 60, 1209600, 345600},
	{"ReceiveMessageWaitTimeSeconds", 0, maxWaitSeconds, 0},
	{"VisibilityTimeout", 0, maxVisibilitySeconds, 30},
}

var readOnlyAttributes = []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
	"ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"}

// unmodelledAttributes are SQS's other queue attributes: valid names, which the
// emulator refuses to set rather than ignore, and reports as unset.
var unmodelledAttributes = []string{"Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
	"KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "FifoQueue", "ContentBasedDeduplication",
	"DeduplicationScope", "FifoThroughputLimit"}

// messageSystemAttributes are the names ReceiveMessage takes; the emulator
// returns the four a standard queue without tracing has.
var messageSystemAttributes = []string{"All", "ApproximateFirstReceiveTimestamp", "ApproximateReceiveCount",
	"SenderId", "SentTimestamp", "AWSTraceHeader", "SqsManagedSseEnabled", "MessageDeduplicationId",
	"MessageGroupId", "SequenceNumber", "DeadLetterQueueSourceArn"}

// sqsError is an SQS error in the JSON protocol: the error shape in __type, and
// the code of SQS's older query protocol in x-amzn-query-error, which SDKs
// report as the error code.
type sqsError struct {
	status  int
	shape   string // __type; "com.amazonaws.sqs#" is added when it has no namespace
	code    string
	message string
}

func (e *sqsError) Error() string { return e.code + ": " + e.message }

// sqsCodes are the query codes and statuses of SQS's error shapes (SQS's
// Smithy model); errors it does not model use their code as the shape.
var sqsCodes = map[string]struct {
	status int
	code   string
}{
	"QueueDoesNotExist":            {400, "AWS.SimpleQueueService.NonExistentQueue"},
	"QueueNameExists":              {400, "QueueAlreadyExists"},
	"QueueDeletedRecently":         {400, "AWS.SimpleQueueService.QueueDeletedRecently"},
	"PurgeQueueInProgress":         {403, "AWS.SimpleQueueService.PurgeQueueInProgress"},
	"ReceiptHandleIsInvalid":       {404, "ReceiptHandleIsInvalid"},
	"MessageNotInflight":           {400, "AWS.SimpleQueueService.MessageNotInflight"},
	"EmptyBatchRequest":            {400, "AWS.SimpleQueueService.EmptyBatchRequest"},
	"TooManyEntriesInBatchRequest": {400, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
	"BatchEntryIdsNotDistinct":     {400, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
	"InvalidBatchEntryId":          {400, "AWS.SimpleQueueService.InvalidBatchEntryId"},
	"BatchRequestTooLong":          {400, "AWS.SimpleQueueService.BatchRequestTooLong"},
	"UnsupportedOperation":         {400, "AWS.SimpleQueueService.UnsupportedOperation"},
	"InvalidAddress":               {404, "InvalidAddress"},
	"ServiceUnavailable":           {503, "ServiceUnavailable"},
	"ExpiredToken":                 {403, "ExpiredToken"},
	"InvalidAction":                {400, "InvalidAction"},
}

func newSQSError(shape, format string, args ...any) *sqsError {
	e := &sqsError{status: http.StatusBadRequest, shape: shape, code: shape, message: fmt.Sprintf(format, args...)}
	if c, ok := sqsCodes[shape]; ok {
		e.status, e.code = c.status, c.code
	}
	return e
}

func invalidParameterValue(format string, args ...any) *sqsError {
	return newSQSError("InvalidParameterValue", format, args...)
}

func missingParameter(name string) *sqsError {
	return newSQSError("MissingParameter", "The request must contain the parameter %s.", name)
}

func queueDoesNotExist() *sqsError {
	return newSQSError("QueueDoesNotExist", "The specified queue does not exist.")
}

// sqsRequest is one SQS call.
type sqsRequest struct {
	ctx    context.Context
	op     string
	caller caller
	base   string // scheme://host the client reached, for queue URLs
	body   []byte
}

type sqsHandler func(s *Server, r *sqsRequest) (any, *sqsError)

var sqsOperations = map[string]sqsHandler{
	"CreateQueue":                  (*Server).createQueue,
	"GetQueueUrl":                  (*Server).getQueueURL,
	"ListQueues":                   (*Server).listQueues,
	"DeleteQueue":                  (*Server).deleteQueue,
	"PurgeQueue":                   (*Server).purgeQueue,
	"GetQueueAttributes":           (*Server).getQueueAttributes,
	"SetQueueAttributes":           (*Server).setQueueAttributes,
	"SendMessage":                  (*Server).sendMessage,
	"SendMessageBatch":             (*Server).sendMessageBatch,
	"ReceiveMessage":               (*Server).receiveMessage,
	"DeleteMessage":                (*Server).deleteMessage,
	"DeleteMessageBatch":           (*Server).deleteMessageBatch,
	"ChangeMessageVisibility":      (*Server).changeMessageVisibility,
	"ChangeMessageVisibilityBatch": (*Server).changeMessageVisibilityBatch,
}

// isSQS says whether a request is an SQS call: SQS's JSON protocol names the
// operation in X-Amz-Target.
func isSQS(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("X-Amz-Target"), sqsTargetPrefix)
}

// serveSQS answers one SQS call; unknown operations are counted as "SQS".
func (s *Server) serveSQS(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), sqsTargetPrefix)
	name := op
	if sqsOperations[op] == nil {
		name = "SQS"
	}
	out, e := s.sqsCall(r, op)
	if e != nil {
		s.count(name, e.code)
		writeSQSError(w, e)
		return
	}
	s.count(name, "OK")
	writeSQSJSON(w, http.StatusOK, out)
}

func (s *Server) sqsCall(r *http.Request, op string) (any, *sqsError) {
	s.mu.Lock()
	unreachable := s.events.Unreachable
	s.mu.Unlock()
	if unreachable {
		return nil, newSQSError("ServiceUnavailable", "The SQS endpoint is unreachable (events.unreachable is set on the EKS emulator).")
	}
	handle := sqsOperations[op]
	if handle == nil {
		return nil, newSQSError("InvalidAction", "The action %s is not valid for this endpoint (the EKS emulator's SQS implements %s).",
			op, strings.Join(slices.Sorted(maps.Keys(sqsOperations)), ", "))
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != sqsContentType {
		return nil, newSQSError("UnsupportedOperation", "The EKS emulator's SQS speaks the JSON protocol only: Content-Type must be %s, not %q.", sqsContentType, ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSQSBody+1))
	if err != nil || len(body) > maxSQSBody {
		return nil, newSQSError("com.amazon.coral.service#SerializationException", "The request body could not be read or is larger than %d bytes.", maxSQSBody)
	}
	s.mu.Lock()
	who, aerr := s.callerFor(r)
	s.mu.Unlock()
	if aerr != nil {
		return nil, newSQSError("ExpiredToken", "%s", aerr.message)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return handle(s, &sqsRequest{ctx: r.Context(), op: op, caller: who, base: scheme + "://" + r.Host, body: body})
}

func writeSQSJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#InternalError", "message": err.Error()})
	}
	w.Header().Set("Content-Type", sqsContentType)
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeSQSError answers as SQS does: __type names the error shape (the Go SDK
// picks its typed error by it), x-amzn-query-error carries the query code and
// whether the sender or SQS is at fault.
func writeSQSError(w http.ResponseWriter, e *sqsError) {
	typ := e.shape
	if !strings.Contains(typ, "#") {
		typ = "com.amazonaws.sqs#" + typ
	}
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("x-amzn-query-error", e.code+";"+fault)
	writeSQSJSON(w, e.status, map[string]string{"__type": typ, "message": e.message})
}

// decodeSQS unmarshals the request; JSON member names are matched without case.
func decodeSQS(r *sqsRequest, v any) *sqsError {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return newSQSError("com.amazon.coral.service#SerializationException", "The request body is not valid JSON for %s: %v", r.op, err)
	}
	return nil
}

// queueURL is the URL of a queue as the client reached the server.
func queueURL(base string, k queueKey) string { return base + "/" + k.account + "/" + k.name }

// QueueURL returns the URL of the default account's queue name, as clients of
// URL() address it (the queue need not exist); "" before Start. It is in the
// first cluster's region, where the events queue is.
func (s *Server) QueueURL(name string) string {
	base := s.URL()
	if base == "" {
		return ""
	}
	return queueURL(base, queueKey{s.defaultAccount, s.defaultRegion, name})
}

// queueByURL resolves a queue URL: its path names the owner account and the
// queue, and the caller's region picks the region, as a regional SQS endpoint
// does. Caller holds s.mu.
func (s *Server) queueByURL(r *sqsRequest, raw string) (*queue, *sqsError) {
	if raw == "" {
		return nil, missingParameter("QueueUrl")
	}
	u, err := url.Parse(raw)
	seg := []string{}
	if err == nil {
		seg = strings.Split(strings.Trim(u.Path, "/"), "/")
	}
	if len(seg) != 2 || !accountRE.MatchString(seg[0]) || seg[1] == "" {
		return nil, newSQSError("InvalidAddress", "The address %s is not valid for this endpoint: a queue URL is <endpoint>/<account>/<queue name>.", raw)
	}
	q := s.queues[queueKey{seg[0], r.caller.region, seg[1]}]
	if q == nil {
		return nil, queueDoesNotExist()
	}
	return q, nil
}

// newQueue makes a queue with the given attributes over the defaults. Caller
// holds s.mu.
func (s *Server) newQueue(k queueKey, attrs map[string]int, now time.Time) *queue {
	q := &queue{key: k, createdAt: now, modifiedAt: now, attrs: map[string]int{}, byID: map[string]*message{},
		arn: fmt.Sprintf("arn:%s:sqs:%s:%s:%s", PartitionOf(k.region), k.region, k.account, k.name)}
	for _, a := range settableAttributes {
		q.attrs[a.name] = a.def
	}
	maps.Copy(q.attrs, attrs)
	s.queues[k] = q
	return q
}

// parseQueueAttributes checks attributes a queue is created or changed with.
func parseQueueAttributes(in map[string]string) (map[string]int, *sqsError) {
	out := map[string]int{}
	for _, name := range slices.Sorted(maps.Keys(in)) {
		i := slices.IndexFunc(settableAttributes, func(a queueAttribute) bool { return a.name == name })
		switch {
		case i >= 0:
		case slices.Contains(unmodelledAttributes, name):
			return nil, newSQSError("UnsupportedOperation", "The EKS emulator's SQS does not model the queue attribute %s (only %s).", name, settableNames())
		default:
			return nil, newSQSError("InvalidAttributeName", "Unknown Attribute %s.", name)
		}
		a := settableAttributes[i]
		v, err := strconv.Atoi(in[name])
		if err != nil || v < a.min || v > a.max {
			return nil, newSQSError("InvalidAttributeValue", "Invalid value for the parameter %s: %q must be an integer from %d to %d.", name, in[name], a.min, a.max)
		}
		out[name] = v
	}
	return out, nil
}

func settableNames() string {
	var names []string
	for _, a := range settableAttributes {
		names = append(names, a.name)
	}
	return strings.Join(names, ", ")
}

func (s *Server) createQueue(r *sqsRequest) (any, *sqsError) {
	var req struct {
		QueueName  string
		Attributes map[string]string
		Tags       map[string]string `json:"tags"`
	}
	if e := decodeSQS(r, &req); e != nil {
		return nil, e
	}
	switch {
	case req.QueueName == "":
		return nil, missingParameter("QueueName")
	case strings.HasSuffix(req.QueueName, ".fifo"):
		return nil, newSQSError("UnsupportedOperation", "The EKS emulator's SQS has standard queues only, not FIFO queues (%s).", req.QueueName)
	case !queueNameRE.MatchString(req.QueueName):
		return nil, invalidParameterValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	case len(req.Tags) > 0:
		return nil, newSQSError("UnsupportedOperation", "The EKS emulator's SQS does not model queue tags.")
	}
	attrs, e := parseQueueAttributes(req.Attributes)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	k := queueKey{r.caller.account, r.caller.region, req.QueueName}
	if q := s.queues[k]; q != nil {
		// CreateQueue is idempotent while the attributes asked for agree.
		for _, name := range slices.Sorted(maps.Keys(attrs)) {
			if q.attrs[name] != attrs[name] {
				return nil, newSQSError("QueueNameExists", "A queue already exists with the same name and a different value for attribute %s", name)
			}
		}
		return map[string]string{"QueueUrl": queueURL(r.base, k)}, nil
	}
	if at, ok := s.deletedQueues[k]; ok && now.Sub(at) < queueReuseDelay {
		return nil, newSQSError("QueueDeletedRecently", "You must wait %d seconds after deleting a queue before you can create another with the same name.", int(queueReuseDelay.Seconds()))
	}
	s.newQueue(k, attrs, now)
	return map[string]string{"QueueUrl": queueURL(r.base, k)}, nil
}

func (s *Server) getQueueURL(r *sqsRequest) (any, *sqsError) {
	var req struct {
		QueueName              string
		QueueOwnerAWSAccountId string
	}
	if e := decodeSQS(r, &req); e != nil {
		return nil, e
	}
	if req.QueueName == "" {
		return nil, missingParameter("QueueName")
	}
	account := r.caller.account
	if req.QueueOwnerAWSAccountId != "" {
		account = req.QueueOwnerAWSAccountId
	}
	k := queueKey{account, r.caller.region, req.QueueName}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues[k] == nil {
		return nil, queueDoesNotExist()
	}
	return map[string]string{"QueueUrl": queueURL(r.base, k)}, nil
}

func (s *Server) listQueues(r *sqsRequest) (any, *sqsError) {
	var req struct {
		QueueNamePrefix string
		MaxResults      *int
		NextToken       string
	}
	if e := decodeSQS(r, &req); e != nil {
		return nil, e
	}
	limit := 1000
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 1000 {
			return nil, invalidParameterValue("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", *req.MaxResults)
		}
		limit = *req.MaxResults
	}
	after := ""
	if req.NextToken != "" {
		a, ok := decodeToken(req.NextToken)
		if !ok {
			return nil, invalidParameterValue("Invalid NextToken value.")
		}
		after = a
	}
	s.mu.Lock()
	var names []string
	for k := range s.queues {
		if k.account == r.caller.account && k.region == r.caller.region && strings.HasPrefix(k.name, req.QueueNamePrefix) && k.name > after {
			names = append(names, k.name)
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	out := struct {
		QueueUrls []string `json:"QueueUrls,omitempty"`
		NextToken string   `json:"NextToken,omitempty"`
	}{}
	// As SQS, a token only when MaxResults was given.
	if len(names) > limit {
		names = names[:limit]
		if req.MaxResults != nil {
			out.NextToken = encodeToken(names[limit-1])
		}
	}
	for _, n := range names {
		out.QueueUrls = append(out.QueueUrls, queueURL(r.base, queueKey{r.caller.account, r.caller.region, n}))
	}
	return out, nil
}

type queueURLRequest struct {
	QueueUrl string
}

func (q queueURLRequest) queueURL() string { return q.QueueUrl }

// queueRequest is a request that names its queue (it embeds queueURLRequest).
type queueRequest interface{ queueURL() string }

// onQueue decodes a request and runs f on the queue it names, with the server's
// lock held. check, when not nil, refuses a bad request before the queue is
// looked up, as SQS does.
func onQueue[T queueRequest](s *Server, r *sqsRequest, check func(T) *sqsError, f func(q *queue, req T) (any, *sqsError)) (any, *sqsError) {
	var req T
	if e := decodeSQS(r, &req); e != nil {
		return nil, e
	}
	if check != nil {
		if e := check(req); e != nil {
			return nil, e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, e := s.queueByURL(r, req.queueURL())
	if e != nil {
		return nil, e
	}
	return f(q, req)
}

func (s *Server) deleteQueue(r *sqsRequest) (any, *sqsError) {
	return onQueue(s, r, nil, func(q *queue, _ queueURLRequest) (any, *sqsError) {
		delete(s.queues, q.key)
		s.deletedQueues[q.key] = time.Now()
		s.wakeReceivers() // their queue is gone
		return struct{}{}, nil
	})
}

func (s *Server) purgeQueue(r *sqsRequest) (any, *sqsError) {
	return onQueue(s, r, nil, func(q *queue, _ queueURLRequest) (any, *sqsError) {
		now := time.Now()
		if !q.purgedAt.IsZero() && now.Sub(q.purgedAt) < purgeInterval {
			return nil, newSQSError("PurgeQueueInProgress", "Only one PurgeQueue operation on %s is allowed every %d seconds.", q.key.name, int(purgeInterval.Seconds()))
		}
		q.purgedAt = now
		q.messages, q.byID = nil, map[string]*message{}
		return struct{}{}, nil
	})
}

type getAttributesRequest struct {
	queueURLRequest
	AttributeNames []string
}

func (s *Server) getQueueAttributes(r *sqsRequest) (any, *sqsError) {
	return onQueue(s, r, nil, getQueueAttributes)
}

func getQueueAttributes(q *queue, req getAttributesRequest) (any, *sqsError) {
	all := q.attributes(time.Now())
	out := map[string]string{}
	for _, name := range req.AttributeNames {
		switch {
		case name == "All":
			maps.Copy(out, all)
		case all[name] != "":
			out[name] = all[name]
		case slices.Contains(unmodelledAttributes, name):
			// valid, and unset here
		default:
			return nil, newSQSError("InvalidAttributeName", "Unknown Attribute %s.", name)
		}
	}
	return struct {
		Attributes map[string]string `json:"Attributes,omitempty"`
	}{out}, nil
}

// attributes are a queue's modelled attributes, as SQS spells them.
func (q *queue) attributes(now time.Time) map[string]string {
	q.expire(now)
	var visible, inFlight, delayed int
	for _, m := range q.messages {
		switch {
		case !now.Before(m.visibleAt):
			visible++
		case m.received > 0:
			inFlight++
		default:
			delayed++
		}
	}
	out := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.createdAt.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modifiedAt.Unix(), 10),
		"QueueArn":                              q.arn,
	}
	for name, v := range q.attrs {
		out[name] = strconv.Itoa(v)
	}
	return out
}

func (s *Server) setQueueAttributes(r *sqsRequest) (any, *sqsError) {
	var req struct {
		QueueUrl   string
		Attributes map[string]string
	}
	if e := decodeSQS(r, &req); e != nil {
		return nil, e
	}
	if len(req.Attributes) == 0 {
		return nil, missingParameter("Attributes")
	}
	for name := range req.Attributes {
		if slices.Contains(readOnlyAttributes, name) {
			return nil, newSQSError("InvalidAttributeName", "The attribute %s is read-only.", name)
		}
	}
	attrs, e := parseQueueAttributes(req.Attributes)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, e := s.queueByURL(r, req.QueueUrl)
	if e != nil {
		return nil, e
	}
	maps.Copy(q.attrs, attrs)
	q.modifiedAt = time.Now()
	return struct{}{}, nil
}

// expire drops messages older than the retention period.
func (q *queue) expire(now time.Time) {
	keep := time.Duration(q.attrs["MessageRetentionPeriod"]) * time.Second
	q.messages = slices.DeleteFunc(q.messages, func(m *message) bool {
		if now.Sub(m.sentAt) <= keep {
			return false
		}
		delete(q.byID, m.id)
		return true
	})
}

// enqueue adds a message that may be received from visibleAt. Caller holds s.mu.
func (s *Server) enqueue(q *queue, body, sender string, sentAt, visibleAt time.Time) *message {
	sum := md5.Sum([]byte(body))
	m := &message{id: uuidFrom(s.rngSQS), body: body, md5: hex.EncodeToString(sum[:]), senderID: sender, sentAt: sentAt, visibleAt: visibleAt}
	q.messages = append(q.messages, m)
	q.byID[m.id] = m
	s.wakeReceivers()
	return m
}

// wakeReceivers wakes long polls, which look again at their queue and at when
// its next message becomes visible. Caller holds s.mu.
func (s *Server) wakeReceivers() {
	close(s.sqsWake)
	s.sqsWake = make(chan struct{})
}

type sendEntry struct {
	Id                      string
	MessageBody             *string
	DelaySeconds            *int
	MessageAttributes       map[string]json.RawMessage
	MessageSystemAttributes map[string]json.RawMessage
	MessageDeduplicationId  string
	MessageGroupId          string
}

// checkSend validates one message for q; it returns the delivery delay.
func checkSend(q *queue, e sendEntry) (time.Duration, *sqsError) {
	switch {
	case e.MessageBody == nil || *e.MessageBody == "":
		return 0, missingParameter("MessageBody")
	case len(e.MessageAttributes) > 0 || len(e.MessageSystemAttributes) > 0:
		return 0, newSQSError("UnsupportedOperation", "The EKS emulator's SQS does not model message attributes.")
	case e.MessageDeduplicationId != "" || e.MessageGroupId != "":
		return 0, newSQSError("UnsupportedOperation", "The EKS emulator's SQS has standard queues only: MessageDeduplicationId and MessageGroupId are not modelled.")
	case len(*e.MessageBody) > q.attrs["MaximumMessageSize"]:
		return 0, invalidParameterValue("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.attrs["MaximumMessageSize"])
	}
	for _, c := range *e.MessageBody {
		if !(c == 0x9 || c == 0xA || c == 0xD || c >= 0x20 && c <= 0xD7FF || c >= 0xE000 && c <= 0xFFFD || c >= 0x10000 && c <= 0x10FFFF) {
			return 0, newSQSError("InvalidMessageContents", "Invalid binary character '#x%X' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", c)
		}
	}
	delay := q.attrs["DelaySeconds"]
	if e.DelaySeconds != nil {
		if *e.DelaySeconds < 0 || *e.DelaySeconds > maxDelaySeconds {
			return 0, invalidParameterValue("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= %d.", *e.DelaySeconds, maxDelaySeconds)
		}
		delay = *e.DelaySeconds
	}
	return time.Duration(delay) * time.Second, nil
}

// senderID is the SenderId SQS reports for a caller: the role session's ID, or
// the account for the root.
func senderID(who caller) string {
	_, id := callerIdentity(who)
	return id
}

type sendRequest struct {
	queueURLRequest
	sendEntry
}

func (s *Server) sendMessage(r *sqsRequest) (any, *sqsError) {
	return onQueue(s, r, nil, func(q *queue, req sendRequest) (any, *sqsError) {
		delay, e := checkSend(q, req.sendEntry)
		if e != nil {
			return nil, e
		}
		now := time.Now()
		m := s.enqueue(q, *req.MessageBody, senderID(r.caller), now, now.Add(delay))
		return map[string]string{"MessageId": m.id, "MD5OfMessageBody": m.md5}, nil
	})
}

// batchFailure is one entry of a batch that failed.
type batchFailure struct {
	Id          string
	SenderFault bool
	Code        string
	Message     string
}

func failure(id string, e *sqsError) batchFailure {
	return batchFailure{Id: id, SenderFault: e.status < 500, Code: e.code, Message: e.message}
}

// checkBatch applies the rules every batch has; ids are its entries' Ids.
func checkBatch(ids []string) *sqsError {
	switch {
	case len(ids) == 0:
		return newSQSError("EmptyBatchRequest", "There should be at least one entry in the request.")
	case len(ids) > maxBatchEntries:
		return newSQSError("TooManyEntriesInBatchRequest", "Maximum number of entries per request are %d. You have sent %d.", maxBatchEntries, len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchEntryIDRE.MatchString(id) {
			return newSQSError("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long; %q is not one.", id)
		}
		if seen[id] {
			return newSQSError("BatchEntryIdsNotDistinct", "Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

type sendBatchRequest struct {
	queueURLRequest
	Entries []sendEntry
}

func (s *Server) sendMessageBatch(r *sqsRequest) (any, *sqsError) {
	check := func(req sendBatchRequest) *sqsError {
		ids := []string{}
		for _, e := range req.Entries {
			ids = append(ids, e.Id)
		}
		return checkBatch(ids)
	}
	return onQueue(s, r, check, func(q *queue, req sendBatchRequest) (any, *sqsError) {
		size := 0
		for _, e := range req.Entries {
			if e.MessageBody != nil {
				size += len(*e.MessageBody)
			}
		}
		if size > q.attrs["MaximumMessageSize"] {
			return nil, newSQSError("BatchRequestTooLong", "Batch requested message too long. Reason: the messages total %d bytes, at most %d are allowed.", size, q.attrs["MaximumMessageSize"])
		}
		type sent struct {
			Id, MessageId, MD5OfMessageBody string
		}
		out := struct {
			Successful []sent
			Failed     []batchFailure
		}{[]sent{}, []batchFailure{}}
		now := time.Now()
		for _, entry := range req.Entries {
			delay, e := checkSend(q, entry)
			if e != nil {
				out.Failed = append(out.Failed, failure(entry.Id, e))
				continue
			}
			m := s.enqueue(q, *entry.MessageBody, senderID(r.caller), now, now.Add(delay))
			out.Successful = append(out.Successful, sent{entry.Id, m.id, m.md5})
		}
		return out, nil
	})
}

type receivedMessage struct {
	MessageId     string
	ReceiptHandle string
	MD5OfBody     string
	Body          string
	Attributes    map[string]string `json:"Attributes,omitempty"`
}

// receiveMessage answers at once when messages are visible, else waits up to
// WaitTimeSeconds (long polling) for one to be sent or to become visible.
func (s *Server) receiveMessage(r *sqsRequest) (any, *sqsError) {
	var req struct {
		QueueUrl                    string
		MaxNumberOfMessages         *int
		WaitTimeSeconds             *int
		VisibilityTimeout           *int
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		ReceiveRequestAttemptId     string
	}
	if e := decodeSQS(r, &req); e != nil {
		return nil, e
	}
	limit := 1
	if n := req.MaxNumberOfMessages; n != nil {
		if *n < 1 || *n > maxBatchEntries {
			return nil, invalidParameterValue("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and %d, if provided.", *n, maxBatchEntries)
		}
		limit = *n
	}
	if n := req.WaitTimeSeconds; n != nil && (*n < 0 || *n > maxWaitSeconds) {
		return nil, invalidParameterValue("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= %d, if provided.", *n, maxWaitSeconds)
	}
	if n := req.VisibilityTimeout; n != nil && (*n < 0 || *n > maxVisibilitySeconds) {
		return nil, invalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= %d, if provided.", *n, maxVisibilitySeconds)
	}
	names := append(slices.Clone(req.AttributeNames), req.MessageSystemAttributeNames...)
	for _, n := range names {
		if !slices.Contains(messageSystemAttributes, n) {
			return nil, newSQSError("InvalidAttributeName", "Unknown Attribute %s.", n)
		}
	}

	var deadline time.Time
	for {
		s.mu.Lock()
		q, e := s.queueByURL(r, req.QueueUrl)
		if e != nil {
			s.mu.Unlock()
			return nil, e
		}
		now := time.Now()
		if deadline.IsZero() {
			wait := q.attrs["ReceiveMessageWaitTimeSeconds"]
			if req.WaitTimeSeconds != nil {
				wait = *req.WaitTimeSeconds
			}
			deadline = now.Add(time.Duration(wait) * time.Second)
		}
		vt := q.attrs["VisibilityTimeout"]
		if req.VisibilityTimeout != nil {
			vt = *req.VisibilityTimeout
		}
		got := s.receive(q, now, limit, time.Duration(vt)*time.Second, names)
		next := q.nextVisible(now)
		wake := s.sqsWake
		s.mu.Unlock()

		if len(got) > 0 || !now.Before(deadline) {
			return struct {
				Messages []receivedMessage `json:"Messages,omitempty"`
			}{got}, nil
		}
		until := deadline
		if !next.IsZero() && next.Before(until) {
			until = next
		}
		t := time.NewTimer(until.Sub(now))
		select {
		case <-t.C:
		case <-wake:
		case <-r.ctx.Done():
		case <-s.closing:
		}
		t.Stop()
		select {
		case <-r.ctx.Done():
			return struct{}{}, nil // nobody listens
		case <-s.closing:
			return struct{}{}, nil
		default:
		}
	}
}

// receive takes up to limit visible messages, oldest first, and hides them
// for vt. Caller holds s.mu.
func (s *Server) receive(q *queue, now time.Time, limit int, vt time.Duration, names []string) []receivedMessage {
	q.expire(now)
	var out []receivedMessage
	for _, m := range q.messages {
		if len(out) == limit {
			break
		}
		if now.Before(m.visibleAt) {
			continue
		}
		m.received++
		if m.received == 1 {
			m.firstReceived = now
		}
		m.visibleAt = now.Add(vt)
		m.handle = base64.StdEncoding.EncodeToString([]byte("eksemu1 " + q.arn + " " + m.id + " " + randomFrom(s.rngSQS, 24)))
		rm := receivedMessage{MessageId: m.id, ReceiptHandle: m.handle, MD5OfBody: m.md5, Body: m.body}
		for _, n := range names {
			if rm.Attributes == nil {
				rm.Attributes = map[string]string{}
			}
			all := n == "All"
			if all || n == "ApproximateReceiveCount" {
				rm.Attributes["ApproximateReceiveCount"] = strconv.Itoa(m.received)
			}
			if all || n == "ApproximateFirstReceiveTimestamp" {
				rm.Attributes["ApproximateFirstReceiveTimestamp"] = strconv.FormatInt(m.firstReceived.UnixMilli(), 10)
			}
			if all || n == "SentTimestamp" {
				rm.Attributes["SentTimestamp"] = strconv.FormatInt(m.sentAt.UnixMilli(), 10)
			}
			if all || n == "SenderId" {
				rm.Attributes["SenderId"] = m.senderID
			}
		}
		out = append(out, rm)
	}
	return out
}

// nextVisible is when the next invisible message becomes visible; zero if none.
func (q *queue) nextVisible(now time.Time) time.Time {
	var next time.Time
	for _, m := range q.messages {
		if m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
			next = m.visibleAt
		}
	}
	return next
}

// byHandle finds the message a receipt handle was issued for. stale reports a
// handle older than the message's latest; m is nil when the message is gone.
func (q *queue) byHandle(handle string) (m *message, stale bool, e *sqsError) {
	if handle == "" {
		return nil, false, missingParameter("ReceiptHandle")
	}
	raw, err := base64.StdEncoding.DecodeString(handle)
	f := strings.Fields(string(raw))
	if err != nil || len(f) != 4 || f[0] != "eksemu1" || f[1] != q.arn {
		return nil, false, newSQSError("ReceiptHandleIsInvalid", "The input receipt handle \"%s\" is not a valid receipt handle.", handle)
	}
	m = q.byID[f[2]]
	return m, m != nil && m.handle != handle, nil
}

// deleteByHandle deletes the message of a receipt handle, if it is the latest.
func (q *queue) deleteByHandle(handle string) *sqsError {
	m, stale, e := q.byHandle(handle)
	if e != nil || m == nil || stale {
		return e
	}
	delete(q.byID, m.id)
	q.messages = slices.DeleteFunc(q.messages, func(x *message) bool { return x == m })
	return nil
}

// changeVisibility hides the message of a receipt handle for vt from now, or
// shows it at once for 0. Caller holds s.mu.
func (q *queue) changeVisibility(handle string, vt *int, now time.Time) *sqsError {
	if vt == nil {
		return missingParameter("VisibilityTimeout")
	}
	m, stale, e := q.byHandle(handle)
	switch {
	case e != nil:
		return e
	case m == nil || stale:
		return invalidParameterValue("Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.", handle)
	case *vt < 0 || *vt > maxVisibilitySeconds:
		return invalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and %d, if provided.", *vt, maxVisibilitySeconds)
	case !now.Before(m.visibleAt):
		return newSQSError("MessageNotInflight", "The message referred to by the receipt handle is not in flight: its visibility timeout has ended.")
	case now.Add(time.Duration(*vt) * time.Second).After(m.firstReceived.Add(maxVisibilitySeconds * time.Second)):
		return invalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [%d seconds].", *vt, maxVisibilitySeconds)
	}
	m.visibleAt = now.Add(time.Duration(*vt) * time.Second)
	return nil
}

type handleEntry struct {
	Id                string
	ReceiptHandle     string
	VisibilityTimeout *int
}

type batchResult struct {
	Successful []struct{ Id string }
	Failed     []batchFailure
}

type handleRequest struct {
	queueURLRequest
	handleEntry
}

func (s *Server) deleteMessage(r *sqsRequest) (any, *sqsError) {
	return onQueue(s, r, nil, func(q *queue, req handleRequest) (any, *sqsError) {
		if e := q.deleteByHandle(req.ReceiptHandle); e != nil {
			return nil, e
		}
		return struct{}{}, nil
	})
}

// handleBatch applies one to each entry of a DeleteMessageBatch or
// ChangeMessageVisibilityBatch.
type handleBatchRequest struct {
	queueURLRequest
	Entries []handleEntry
}

func (s *Server) handleBatch(r *sqsRequest, one func(q *queue, e handleEntry, now time.Time) *sqsError) (any, *sqsError) {
	check := func(req handleBatchRequest) *sqsError {
		ids := []string{}
		for _, e := range req.Entries {
			ids = append(ids, e.Id)
		}
		return checkBatch(ids)
	}
	return onQueue(s, r, check, func(q *queue, req handleBatchRequest) (any, *sqsError) {
		out := batchResult{Successful: []struct{ Id string }{}, Failed: []batchFailure{}}
		now := time.Now()
		for _, entry := range req.Entries {
			if e := one(q, entry, now); e != nil {
				out.Failed = append(out.Failed, failure(entry.Id, e))
				continue
			}
			out.Successful = append(out.Successful, struct{ Id string }{entry.Id})
		}
		s.wakeReceivers()
		return out, nil
	})
}

func (s *Server) deleteMessageBatch(r *sqsRequest) (any, *sqsError) {
	return s.handleBatch(r, func(q *queue, e handleEntry, _ time.Time) *sqsError { return q.deleteByHandle(e.ReceiptHandle) })
}

func (s *Server) changeMessageVisibility(r *sqsRequest) (any, *sqsError) {
	return onQueue(s, r, nil, func(q *queue, req handleRequest) (any, *sqsError) {
		if e := q.changeVisibility(req.ReceiptHandle, req.VisibilityTimeout, time.Now()); e != nil {
			return nil, e
		}
		s.wakeReceivers()
		return struct{}{}, nil
	})
}

func (s *Server) changeMessageVisibilityBatch(r *sqsRequest) (any, *sqsError) {
	return s.handleBatch(r, func(q *queue, e handleEntry, now time.Time) *sqsError {
		return q.changeVisibility(e.ReceiptHandle, e.VisibilityTimeout, now)
	})
}

// uuidFrom returns a random UUID in the v4 layout, drawn from r.
func uuidFrom(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomFrom(r *rand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// clientIP is the address a request came from, without its port.
func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
