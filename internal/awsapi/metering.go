package awsapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eksaccess/eks-access-operator/internal/budget"
)

var (
	// eksRequests counts every attempt of an AWS call, retries included.
	eksRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_eks_requests_total",
		Help: "AWS API calls (EKS, and the IAM reads of principal IDs) by operation and outcome (OK or the error code); each retry counts.",
	}, []string{"operation", "outcome"})

	// eksThrottled counts EKS's throttling responses by account and region; each
	// slows the account's budget for a while.
	eksThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_eks_throttled_total",
		Help: "EKS calls EKS throttled, by account and region; each slows the operator's budget for that account and region.",
	}, []string{"account", "region"})

	// budgetSpent counts calls the operator did not make because the account's
	// budget had no token: the work was queued for its turn instead.
	budgetSpent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_budget_spent_total",
		Help: "EKS calls put off because the account and region's budget (--eks-qps) had no token; the object waits its turn.",
	}, []string{"account", "region"})

	// backgroundCalls counts the EKS calls of drift detection by tier.
	backgroundCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_background_calls_total",
		Help: "EKS calls made to find drift, by tier: sweep (every entry of a cluster listed), watched (entries holding a watched policy listed), verify (one entry read in full).",
	}, []string{"tier"})
)

// Collectors are the metrics of the AWS side, for the operator's registry. They
// are registered by whoever serves metrics (controllers), so that the kubectl
// plugin, which classifies errors here, links no metrics server.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{eksRequests, eksThrottled, budgetSpent, backgroundCalls, sqsRequests}
}

// OverBudgetError fails an EKS call the account's budget has no token for: the
// pass ends there and its work is queued for its turn.
type OverBudgetError struct {
	// Key is the account and region whose budget is spent.
	Key budget.Key
}

func (e *OverBudgetError) Error() string {
	return fmt.Sprintf("the operator's budget of EKS calls for account %s in %s is spent for now (--eks-qps)", e.Key.Account, e.Key.Region)
}

// OverBudget is the budget an error says is spent, if it says so.
func OverBudget(err error) (budget.Key, bool) {
	var over *OverBudgetError
	if errors.As(err, &over) {
		return over.Key, true
	}
	return budget.Key{}, false
}

// Slot carries, in the context of a pass, the tokens the pass reserved: the
// calls of the pass take from them first.
type Slot struct {
	// Grant is what the pass reserved; nil: each call takes what the budget holds.
	Grant *budget.Grant
	// Tier names the background work the calls are for (sweep, watched,
	// verify), for the metric; empty for foreground work.
	Tier string
	// Used counts the calls the pass made, to reserve enough for its next try
	// when it ran out.
	Used int
}

type slotKey struct{}

// WithSlot returns a context whose EKS calls take from the slot's grant.
func WithSlot(ctx context.Context, slot *Slot) context.Context {
	return context.WithValue(ctx, slotKey{}, slot)
}

// Release gives back what the pass did not spend.
func (s *Slot) Release() {
	if s.Grant != nil {
		s.Grant.Release()
		s.Grant = nil
	}
}

// maxPace is the longest a call waits to be spaced from the account's other
// calls; past it the call fails with OverBudgetError and the work waits its turn.
const maxPace = 250 * time.Millisecond

// spendToken takes the token of one attempt: from the pass's grant, else from
// what the budget holds now, else it fails with OverBudgetError (never waits for
// the account's line, only, at most maxPace, to space the call from its others).
func spendToken(ctx context.Context, s *budget.Scheduler, key budget.Key) error {
	slot, _ := ctx.Value(slotKey{}).(*Slot)
	class := budget.Foreground
	if slot != nil && slot.Grant != nil {
		class = slot.Grant.Class
	}
	if (slot == nil || !slot.Grant.Take()) && !s.TakeNowAs(key, 1, class) {
		budgetSpent.WithLabelValues(key.Account, key.Region).Inc()
		return &OverBudgetError{Key: key}
	}
	wait, ok := s.Pace(key, maxPace)
	if !ok {
		budgetSpent.WithLabelValues(key.Account, key.Region).Inc()
		return &OverBudgetError{Key: key}
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if slot != nil {
		slot.Used++
		if slot.Tier != "" {
			backgroundCalls.WithLabelValues(slot.Tier).Inc()
		}
	}
	return nil
}

// attemptMiddleware spends a token of the account's budget on each attempt (s
// nil: none), or fails it with OverBudgetError when there is none, and counts
// its outcome by operation. A throttled attempt slows the account's budget.
func attemptMiddleware(s *budget.Scheduler, key budget.Key) middleware.FinalizeMiddleware {
	return middleware.FinalizeMiddlewareFunc("eksAccessAttempt", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if s != nil {
			if err := spendToken(ctx, s, key); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
		}
		out, md, err := next.HandleFinalize(ctx, in)
		eksRequests.WithLabelValues(awsmiddleware.GetOperationName(ctx), callOutcome(err)).Inc()
		if s != nil && Classify(err) == Throttled {
			s.Throttled(key)
			eksThrottled.WithLabelValues(key.Account, key.Region).Inc()
		}
		return out, md, err
	})
}

// noThrottleRetries is the SDK's standard retryer, except that it never retries
// throttling: the budget slows the account instead (see Clients).
type noThrottleRetries struct{ aws.RetryerV2 }

func (r noThrottleRetries) IsErrorRetryable(err error) bool {
	return Classify(err) != Throttled && r.RetryerV2.IsErrorRetryable(err)
}

// callOutcome is "OK" or the error code of a failed call, for the metric.
func callOutcome(err error) string {
	if err == nil {
		return "OK"
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return "NetworkError"
}
