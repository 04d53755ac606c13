package awsapi

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// SQSAPI is the part of the SQS API the event reader calls, in the SDK's own
// signatures: *sqs.Client satisfies it.
type SQSAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// sqsRequests counts the event reader's SQS calls; they spend no EKS budget.
var sqsRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "eks_access_operator_sqs_requests_total",
	Help: "SQS calls of the event reader (--events-queue-url), by operation and outcome (OK or the error code); each retry counts.",
}, []string{"operation", "outcome"})

// Queue is the SQS queue EKS's CloudTrail events arrive in, read with the
// operator's own credentials (a queue of another account grants them through
// its queue policy).
type Queue struct {
	api SQSAPI
	url string
}

// QueueMessage is one message received: its body, and the handle that deletes it.
type QueueMessage struct {
	ID     string
	Body   []byte
	handle string
}

// QueueRegion is the region of a queue's URL (https://sqs.<region>.amazonaws.com/...),
// or "" for a URL that does not say (a VPC endpoint, the emulator).
func QueueRegion(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == "sqs" && strings.HasPrefix(strings.Join(parts[2:], "."), "amazonaws.") {
		return parts[1]
	}
	return ""
}

// Queue returns the reader of a queue in region. A URL outside amazonaws.com
// (the emulator, a proxy) is also the endpoint its calls go to.
func (c *Clients) Queue(queueURL, region string) (Queue, error) {
	u, err := url.Parse(queueURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Queue{}, fmt.Errorf("--events-queue-url %q is not a queue URL such as https://sqs.us-west-2.amazonaws.com/111122223333/eks-access-events", queueURL)
	}
	if region == "" {
		return Queue{}, fmt.Errorf("--events-queue-url %q names no region: pass --events-queue-region", queueURL)
	}
	api := sqs.NewFromConfig(c.base, func(o *sqs.Options) {
		o.Region = region
		if !strings.Contains(u.Hostname(), ".amazonaws.") {
			o.BaseEndpoint = aws.String(u.Scheme + "://" + u.Host)
		}
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("eksAccessSQSCount",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleFinalize(ctx, in)
					sqsRequests.WithLabelValues(awsmiddleware.GetOperationName(ctx), callOutcome(err)).Inc()
					return out, md, err
				}), middleware.After)
		})
	})
	return Queue{api: api, url: queueURL}, nil
}

// NewQueue is a reader of a queue through api (tests).
func NewQueue(api SQSAPI, queueURL string) Queue { return Queue{api: api, url: queueURL} }

// Receive long-polls the queue for up to wait (at most 20 s, SQS's bound) and
// returns up to 10 messages; none when the wait ends quietly. A message not
// deleted comes back after the queue's visibility timeout.
func (q Queue) Receive(ctx context.Context, wait time.Duration) ([]QueueMessage, error) {
	out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.url),
		MaxNumberOfMessages: 10,
		WaitTimeSeconds:     int32(min(wait, 20*time.Second) / time.Second),
	})
	if err != nil {
		return nil, err
	}
	msgs := make([]QueueMessage, 0, len(out.Messages))
	for _, m := range out.Messages {
		msgs = append(msgs, QueueMessage{ID: aws.ToString(m.MessageId), Body: []byte(aws.ToString(m.Body)), handle: aws.ToString(m.ReceiptHandle)})
	}
	return msgs, nil
}

// Delete deletes messages, ten a call. Those SQS could not delete come back
// later, and are read again: harmless, as every event is.
func (q Queue) Delete(ctx context.Context, msgs []QueueMessage) error {
	for len(msgs) > 0 {
		n := min(len(msgs), 10)
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, n)
		for i, m := range msgs[:n] {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(m.handle)}
		}
		if _, err := q.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries}); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}
