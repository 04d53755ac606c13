package eksemulator

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func sqsClient(s *Server) *sqs.Client {
	return sqs.NewFromConfig(awsConfig(s, testRegion, defaultCreds, nil))
}

// newQueue creates a queue through the API and returns its URL.
func newQueue(t *testing.T, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	mustOK(t, err, "CreateQueue "+name)
	return aws.ToString(out.QueueUrl)
}

func send(t *testing.T, c *sqs.Client, url, body string) *sqs.SendMessageOutput {
	t.Helper()
	out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	mustOK(t, err, "SendMessage")
	return out
}

func receive(t *testing.T, c *sqs.Client, in *sqs.ReceiveMessageInput) []sqstypes.Message {
	t.Helper()
	if in.MaxNumberOfMessages == 0 {
		in.MaxNumberOfMessages = 10
	}
	out, err := c.ReceiveMessage(ctx, in)
	mustOK(t, err, "ReceiveMessage")
	return out.Messages
}

// queueCounts reads the visible, in-flight and delayed message counts.
func queueCounts(t *testing.T, c *sqs.Client, url string) (visible, inFlight, delayed int) {
	t.Helper()
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
		"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"}})
	mustOK(t, err, "GetQueueAttributes")
	n := func(k string) int {
		v, err := strconv.Atoi(out.Attributes[k])
		if err != nil {
			t.Fatalf("attribute %s = %q", k, out.Attributes[k])
		}
		return v
	}
	return n("ApproximateNumberOfMessages"), n("ApproximateNumberOfMessagesNotVisible"), n("ApproximateNumberOfMessagesDelayed")
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSQSQueueLifecycle: a queue made, found, listed, written, read, emptied
// and deleted through the SDK; MD5s of a non-ASCII body agree with the SDK's
// own check; the deleted queue's errors decode as the SDK's typed errors.
func TestSQSQueueLifecycle(t *testing.T) {
	s := startServer(t, Config{})
	c := sqsClient(s)
	url := newQueue(t, c, "work", nil)
	if url != s.QueueURL("work") || url != s.URL()+"/"+testAccount+"/work" {
		t.Fatalf("queue URL %s, QueueURL says %s", url, s.QueueURL("work"))
	}
	if again := newQueue(t, c, "work", map[string]string{"VisibilityTimeout": "30"}); again != url {
		t.Fatalf("CreateQueue of an existing queue with its attributes = %s, want %s", again, url)
	}
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("work")})
	mustOK(t, err, "GetQueueUrl")
	if aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl = %s, want %s", aws.ToString(got.QueueUrl), url)
	}
	newQueue(t, c, "other", nil)
	list, err := c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("wo")})
	mustOK(t, err, "ListQueues")
	if !slices.Equal(list.QueueUrls, []string{url}) {
		t.Fatalf("ListQueues wo* = %v", list.QueueUrls)
	}
	page, err := c.ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(1)})
	mustOK(t, err, "ListQueues page 1")
	next, err := c.ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(1), NextToken: page.NextToken})
	mustOK(t, err, "ListQueues page 2")
	if len(page.QueueUrls) != 1 || !strings.HasSuffix(page.QueueUrls[0], "/other") || page.NextToken == nil ||
		len(next.QueueUrls) != 1 || next.QueueUrls[0] != url || next.NextToken != nil {
		t.Fatalf("pages %v (token %v), %v (token %v)", page.QueueUrls, page.NextToken, next.QueueUrls, next.NextToken)
	}

	body := `{"é": "naïve ✓ 😀"}` + "\t\n"
	before := time.Now()
	sent := send(t, c, url, body)
	if aws.ToString(sent.MD5OfMessageBody) != md5Hex(body) || aws.ToString(sent.MessageId) == "" {
		t.Fatalf("SendMessage = MD5 %s, ID %q; want MD5 %s", aws.ToString(sent.MD5OfMessageBody), aws.ToString(sent.MessageId), md5Hex(body))
	}
	msgs := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"ApproximateReceiveCount", "SentTimestamp", "SenderId"}})
	if len(msgs) != 1 {
		t.Fatalf("received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	sentAt, _ := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64)
	if aws.ToString(m.Body) != body || aws.ToString(m.MD5OfBody) != md5Hex(body) || aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) ||
		m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SenderId"] != testAccount ||
		sentAt < before.UnixMilli() || sentAt > time.Now().UnixMilli() {
		t.Fatalf("received %+v (attributes %v)", m, m.Attributes)
	}
	if v, f, d := queueCounts(t, c, url); v != 0 || f != 1 || d != 0 {
		t.Fatalf("after a receive: %d visible, %d in flight, %d delayed; want 0, 1, 0", v, f, d)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
	mustOK(t, err, "DeleteMessage")
	if v, f, d := queueCounts(t, c, url); v+f+d != 0 {
		t.Fatalf("after the delete: %d visible, %d in flight, %d delayed", v, f, d)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
	mustOK(t, err, "DeleteMessage of a message already deleted")

	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
	mustOK(t, err, "GetQueueAttributes All")
	if attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-west-2:111122223333:work" || attrs.Attributes["VisibilityTimeout"] != "30" {
		t.Fatalf("attributes = %v", attrs.Attributes)
	}

	_, err = c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	mustOK(t, err, "DeleteQueue")
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("work")})
	wantErr[*sqstypes.QueueDoesNotExist](t, err, "The specified queue does not exist.")
	wantCode(t, err, "AWS.SimpleQueueService.NonExistentQueue")
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	wantErr[*sqstypes.QueueDoesNotExist](t, err, "does not exist")
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work")})
	wantErr[*sqstypes.QueueDeletedRecently](t, err, "wait 60 seconds")
}

// TestSQSBatches: each entry of a batch answers for itself, by its Id.
func TestSQSBatches(t *testing.T) {
	s := startServer(t, Config{})
	c := sqsClient(s)
	url := newQueue(t, c, "batch", nil)
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("first")},
		{Id: aws.String("bad"), MessageBody: aws.String("bell \a")},
		{Id: aws.String("b"), MessageBody: aws.String("second")},
	}})
	mustOK(t, err, "SendMessageBatch")
	if len(out.Successful) != 2 || aws.ToString(out.Successful[0].Id) != "a" || aws.ToString(out.Successful[1].MD5OfMessageBody) != md5Hex("second") ||
		len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "bad" || aws.ToString(out.Failed[0].Code) != "InvalidMessageContents" || !out.Failed[0].SenderFault {
		t.Fatalf("SendMessageBatch = %+v", out)
	}
	msgs := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if len(msgs) != 2 || aws.ToString(msgs[0].Body) != "first" || aws.ToString(msgs[1].Body) != "second" {
		t.Fatalf("received %d messages: %+v", len(msgs), msgs)
	}

	cv, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: []sqstypes.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("show"), ReceiptHandle: msgs[1].ReceiptHandle, VisibilityTimeout: 0},
		{Id: aws.String("forged"), ReceiptHandle: aws.String("bm90IGEgaGFuZGxl"), VisibilityTimeout: 5},
	}})
	mustOK(t, err, "ChangeMessageVisibilityBatch")
	if len(cv.Successful) != 1 || aws.ToString(cv.Successful[0].Id) != "show" || len(cv.Failed) != 1 || aws.ToString(cv.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("ChangeMessageVisibilityBatch = %+v", cv)
	}
	if v, f, _ := queueCounts(t, c, url); v != 1 || f != 1 {
		t.Fatalf("after showing one: %d visible, %d in flight; want 1 and 1", v, f)
	}

	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []sqstypes.DeleteMessageBatchRequestEntry{
		{Id: aws.String("one"), ReceiptHandle: msgs[0].ReceiptHandle},
		{Id: aws.String("two"), ReceiptHandle: aws.String("garbage")},
	}})
	mustOK(t, err, "DeleteMessageBatch")
	if len(del.Successful) != 1 || aws.ToString(del.Successful[0].Id) != "one" || len(del.Failed) != 1 ||
		aws.ToString(del.Failed[0].Id) != "two" || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("DeleteMessageBatch = %+v", del)
	}
	if v, f, _ := queueCounts(t, c, url); v != 1 || f != 0 {
		t.Fatalf("after the batch delete: %d visible, %d in flight; want 1 and 0", v, f)
	}

	eleven := make([]sqstypes.DeleteMessageBatchRequestEntry, 11)
	for i := range eleven {
		eleven[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String("h")}
	}
	_, err = c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: eleven})
	wantErr[*sqstypes.TooManyEntriesInBatchRequest](t, err, "11")
	_, err = c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []sqstypes.DeleteMessageBatchRequestEntry{}})
	wantErr[*sqstypes.EmptyBatchRequest](t, err, "at least one")
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("x"), MessageBody: aws.String("1")}, {Id: aws.String("x"), MessageBody: aws.String("2")}}})
	wantErr[*sqstypes.BatchEntryIdsNotDistinct](t, err, "x")
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("no spaces"), MessageBody: aws.String("1")}}})
	wantErr[*sqstypes.InvalidBatchEntryId](t, err, "no spaces")
	if v, _, _ := queueCounts(t, c, url); v != 1 {
		t.Fatalf("refused batches changed the queue: %d visible, want 1", v)
	}
}

// TestSQSLongPolling: a long poll answers as soon as a message is sent or a
// delayed one becomes visible, answers empty when the wait ends, and ends when
// the server closes.
func TestSQSLongPolling(t *testing.T) {
	s := startServer(t, Config{})
	c := sqsClient(s)
	url := newQueue(t, c, "poll", nil)

	start := time.Now()
	if msgs := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1}); len(msgs) != 0 {
		t.Fatalf("an empty queue gave %d messages", len(msgs))
	}
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Fatalf("a 1 s long poll of an empty queue took %s", d)
	}

	go func() {
		time.Sleep(300 * time.Millisecond)
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("late")}); err != nil {
			t.Errorf("SendMessage: %v", err)
		}
	}()
	start = time.Now()
	msgs := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 10})
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "late" {
		t.Fatalf("long poll got %+v", msgs)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("long poll answered after %s; the message was sent after 300ms", d)
	}

	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("delayed"), DelaySeconds: 1})
	mustOK(t, err, "SendMessage with a delay")
	if _, _, d := queueCounts(t, c, url); d != 1 {
		t.Fatalf("%d delayed messages, want 1", d)
	}
	start = time.Now()
	msgs = receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 10})
	if d := time.Since(start); len(msgs) != 1 || d < 700*time.Millisecond || d > 3*time.Second {
		t.Fatalf("the delayed message came after %s: %+v", d, msgs)
	}

	done := make(chan error, 1)
	go func() {
		_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	mustOK(t, s.Close(), "Close")
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("a long poll outlived Close by 3s")
	}
}

// TestSQSVisibilityTimeout: a message not deleted comes back when its
// visibility timeout ends, with a new receipt handle; the old handle deletes
// nothing; visibility can be changed and overridden per receive.
func TestSQSVisibilityTimeout(t *testing.T) {
	s := startServer(t, Config{})
	c := sqsClient(s)
	url := newQueue(t, c, "vis", map[string]string{"VisibilityTimeout": "1"})
	send(t, c, url, "again")
	names := []sqstypes.MessageSystemAttributeName{"All"}
	first := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageSystemAttributeNames: names})
	if len(first) != 1 {
		t.Fatalf("first receive got %d", len(first))
	}
	if again := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); len(again) != 0 {
		t.Fatal("an in-flight message was received again")
	}
	second := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 5, MessageSystemAttributeNames: names})
	if len(second) != 1 || second[0].Attributes["ApproximateReceiveCount"] != "2" ||
		second[0].Attributes["ApproximateFirstReceiveTimestamp"] != first[0].Attributes["ApproximateFirstReceiveTimestamp"] ||
		aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Fatalf("after the visibility timeout: %+v", second)
	}

	_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle})
	mustOK(t, err, "DeleteMessage with the old receipt handle")
	if _, f, _ := queueCounts(t, c, url); f != 1 {
		t.Fatalf("the old receipt handle deleted the message (%d in flight)", f)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 0})
	wantCode(t, err, "InvalidParameterValue")
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 0})
	mustOK(t, err, "ChangeMessageVisibility to 0")
	if v, _, _ := queueCounts(t, c, url); v != 1 {
		t.Fatalf("visibility 0 left %d visible", v)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 10})
	// SQS's model gives MessageNotInflight no message member: the code says it all.
	wantErr[*sqstypes.MessageNotInflight](t, err, "AWS.SimpleQueueService.MessageNotInflight")

	_, err = c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": "60"}})
	mustOK(t, err, "SetQueueAttributes")
	third := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 1})
	if v, f, _ := queueCounts(t, c, url); len(third) != 1 || v != 0 || f != 1 {
		t.Fatalf("a receive with visibility 1 left %d visible, %d in flight", v, f)
	}
	start := time.Now()
	fourth := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 5})
	if d := time.Since(start); len(fourth) != 1 || d > 2*time.Second {
		t.Fatalf("the receive's own visibility of 1 s (not the queue's 60 s) held the message %s", d)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: fourth[0].ReceiptHandle})
	mustOK(t, err, "DeleteMessage with the latest receipt handle")
	if v, f, d := queueCounts(t, c, url); v+f+d != 0 {
		t.Fatalf("after the delete: %d visible, %d in flight, %d delayed", v, f, d)
	}
}

// TestSQSParameterErrors: out-of-range parameters get SQS's codes, which the
// SDK reports (the query code for the errors SQS's model lacks).
func TestSQSParameterErrors(t *testing.T) {
	s := startServer(t, Config{})
	c := sqsClient(s)
	url := newQueue(t, c, "errs", nil)
	u := aws.String(url)
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"11 messages", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: u, MaxNumberOfMessages: 11})
			return err
		}, "InvalidParameterValue"},
		{"21 s wait", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: u, WaitTimeSeconds: 21})
			return err
		}, "InvalidParameterValue"},
		{"visibility over 12 h", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: u, VisibilityTimeout: 43201})
			return err
		}, "InvalidParameterValue"},
		{"unknown message attribute", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: u, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"Colour"}})
			return err
		}, "InvalidAttributeName"},
		{"delay over 900 s", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: u, MessageBody: aws.String("x"), DelaySeconds: 901})
			return err
		}, "InvalidParameterValue"},
		{"queue name with a dot", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("a.b")})
			return err
		}, "InvalidParameterValue"},
		{"visibility attribute out of range", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("x"), Attributes: map[string]string{"VisibilityTimeout": "99999"}})
			return err
		}, "InvalidAttributeValue"},
		{"same name, other attributes", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("errs"), Attributes: map[string]string{"VisibilityTimeout": "5"}})
			return err
		}, "QueueAlreadyExists"},
		{"unknown queue attribute", func() error {
			_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u, AttributeNames: []sqstypes.QueueAttributeName{"Colour"}})
			return err
		}, "InvalidAttributeName"},
		{"not a queue URL", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.URL() + "/errs"), MessageBody: aws.String("x")})
			return err
		}, "InvalidAddress"},
		{"forged receipt handle", func() error {
			_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: u, ReceiptHandle: aws.String("forged")})
			return err
		}, "ReceiptHandleIsInvalid"},
		{"FIFO queue", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q.fifo")})
			return err
		}, "AWS.SimpleQueueService.UnsupportedOperation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(), tt.code) })
	}
	_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("errs"), Attributes: map[string]string{"VisibilityTimeout": "5"}})
	wantErr[*sqstypes.QueueNameExists](t, err, "VisibilityTimeout")
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("x"), Attributes: map[string]string{"VisibilityTimeout": "99999"}})
	wantErr[*sqstypes.InvalidAttributeValue](t, err, "VisibilityTimeout")

	_, err = c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: u})
	mustOK(t, err, "PurgeQueue")
	_, err = c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: u})
	wantErr[*sqstypes.PurgeQueueInProgress](t, err, "every 60 seconds")
}

// TestSQSErrorOnTheWire: the JSON protocol's error, as SQS's documentation
// shows it, for clients other than the Go SDK.
func TestSQSErrorOnTheWire(t *testing.T) {
	s := startServer(t, Config{})
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(`{"QueueUrl":"`+s.QueueURL("absent")+`"}`))
	mustOK(t, err, "request")
	req.Header.Set("X-Amz-Target", "AmazonSQS.GetQueueAttributes")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	mustOK(t, err, "POST")
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]string
	mustOK(t, json.Unmarshal(b, &body), "error body")
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("x-amzn-query-error") != "AWS.SimpleQueueService.NonExistentQueue;Sender" ||
		resp.Header.Get("Content-Type") != "application/x-amz-json-1.0" ||
		body["__type"] != "com.amazonaws.sqs#QueueDoesNotExist" || body["message"] != "The specified queue does not exist." {
		t.Fatalf("HTTP %d, headers %v, body %s", resp.StatusCode, resp.Header, b)
	}
	if got := s.Calls()["GetQueueAttributes"]["AWS.SimpleQueueService.NonExistentQueue"]; got != 1 || IsEKS("GetQueueAttributes") {
		t.Fatalf("counted %d, IsEKS %v", got, IsEKS("GetQueueAttributes"))
	}
}

// TestSQSQueuesAreRegional: a queue URL names the account and the queue; the
// caller's region picks the region, as a regional endpoint does.
func TestSQSQueuesAreRegional(t *testing.T) {
	s := startServer(t, Config{})
	url := newQueue(t, sqsClient(s), "regional", nil)
	other := sqs.NewFromConfig(awsConfig(s, "eu-west-1", defaultCreds, nil))
	_, err := other.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	var qe *sqstypes.QueueDoesNotExist
	if !errors.As(err, &qe) {
		t.Fatalf("a us-west-2 queue from eu-west-1: %v, want QueueDoesNotExist", err)
	}
}
