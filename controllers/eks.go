package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/time/rate"

	"github.com/eksaccess/eks-access-operator/internal/awsarn"
)

// EKSAPI is the part of the EKS API the AccessEntry controller calls, in the SDK's
// own signatures: *eks.Client satisfies it and the SDK's paginators accept it.
type EKSAPI interface {
	CreateAccessEntry(context.Context, *eks.CreateAccessEntryInput, ...func(*eks.Options)) (*eks.CreateAccessEntryOutput, error)
	DescribeAccessEntry(context.Context, *eks.DescribeAccessEntryInput, ...func(*eks.Options)) (*eks.DescribeAccessEntryOutput, error)
	UpdateAccessEntry(context.Context, *eks.UpdateAccessEntryInput, ...func(*eks.Options)) (*eks.UpdateAccessEntryOutput, error)
	DeleteAccessEntry(context.Context, *eks.DeleteAccessEntryInput, ...func(*eks.Options)) (*eks.DeleteAccessEntryOutput, error)
	AssociateAccessPolicy(context.Context, *eks.AssociateAccessPolicyInput, ...func(*eks.Options)) (*eks.AssociateAccessPolicyOutput, error)
	DisassociateAccessPolicy(context.Context, *eks.DisassociateAccessPolicyInput, ...func(*eks.Options)) (*eks.DisassociateAccessPolicyOutput, error)
	ListAssociatedAccessPolicies(context.Context, *eks.ListAssociatedAccessPoliciesInput, ...func(*eks.Options)) (*eks.ListAssociatedAccessPoliciesOutput, error)
	TagResource(context.Context, *eks.TagResourceInput, ...func(*eks.Options)) (*eks.TagResourceOutput, error)
	UntagResource(context.Context, *eks.UntagResourceInput, ...func(*eks.Options)) (*eks.UntagResourceOutput, error)

	// For ClusterAccessConfig: the cluster's mode, its updates, and its entries.
	DescribeCluster(context.Context, *eks.DescribeClusterInput, ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
	UpdateClusterConfig(context.Context, *eks.UpdateClusterConfigInput, ...func(*eks.Options)) (*eks.UpdateClusterConfigOutput, error)
	DescribeUpdate(context.Context, *eks.DescribeUpdateInput, ...func(*eks.Options)) (*eks.DescribeUpdateOutput, error)
	ListAccessEntries(context.Context, *eks.ListAccessEntriesInput, ...func(*eks.Options)) (*eks.ListAccessEntriesOutput, error)
}

var _ EKSAPI = (*eks.Client)(nil)

// Target is where EKS calls go: a region, and the IAM role to assume for a
// cluster in another account (empty: the operator's own credentials).
type Target struct {
	Region     string
	RoleARN    string
	ExternalID string
}

// EKSClients hands out the EKS client of a target.
type EKSClients interface {
	For(t Target) EKSAPI
	// Account is the account and partition a target's calls act in.
	Account(ctx context.Context, t Target) (account, partition string, err error)
}

// ClientOptions configure the EKS clients the operator builds.
type ClientOptions struct {
	// Endpoint overrides the EKS endpoint (the emulator, or a VPC endpoint).
	Endpoint string
	// STSEndpoint overrides the STS endpoint used to assume roles and to learn the
	// operator's own account.
	STSEndpoint string
	// IAMEndpoint overrides the IAM endpoint used to read principals' unique IDs.
	IAMEndpoint string
	// IAMQPS bounds those reads per account (default 5 a second).
	IAMQPS float64
	// QPS and Burst bound the calls of all workers to one account and region.
	QPS   float64
	Burst int
	// MaxAttempts is how often the SDK tries one call (throttling and 5xx are retried).
	MaxAttempts int
}

// SDKClients builds one *eks.Client a target from a base AWS config, each behind a
// client-side rate limiter shared by every worker calling the same account and
// region, and counts every attempt in the eks_access_operator_eks_requests_total
// metric. Assumed-role credentials are cached and refreshed by the SDK.
type SDKClients struct {
	base aws.Config
	opts ClientOptions

	mu       sync.Mutex
	configs  map[Target]aws.Config
	clients  map[Target]EKSAPI
	limiters map[string]*rate.Limiter
	iam      iamState
}

// NewSDKClients returns clients that build on cfg (credentials from the SDK's chain).
func NewSDKClients(cfg aws.Config, opts ClientOptions) *SDKClients {
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 5
	}
	return &SDKClients{base: cfg, opts: opts, configs: map[Target]aws.Config{}, clients: map[Target]EKSAPI{}, limiters: map[string]*rate.Limiter{},
		iam: iamState{clients: map[Target]IAMAPI{}, accounts: map[Target][2]string{}, unreachable: map[Target]time.Time{}, limiters: map[string]*rate.Limiter{}}}
}

// For returns the client of a target, building it on first use.
func (c *SDKClients) For(t Target) EKSAPI {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[t]; ok {
		return cl
	}
	limiter := c.limiter(t)
	cl := eks.NewFromConfig(c.configFor(t), func(o *eks.Options) {
		o.Region = t.Region
		if c.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.opts.Endpoint)
		}
		// The SDK's retry quota turns a burst of throttling into errors that are
		// not EKS's; our own limiter and the workqueue's backoff pace us instead.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = c.opts.MaxAttempts
			so.RateLimiter = ratelimit.None
		})
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			// After Retry, so that every attempt waits for a token and is counted.
			return stack.Finalize.Insert(attemptMiddleware(limiter), "Retry", middleware.After)
		})
	})
	c.clients[t] = cl
	return cl
}

// configFor is the AWS config of a target: the base one, or credentials of the
// target's role, assumed through STS and cached and refreshed by the SDK. One per
// target, so that EKS and IAM clients of a target share the cached credentials.
// Caller holds c.mu.
func (c *SDKClients) configFor(t Target) aws.Config {
	if cfg, ok := c.configs[t]; ok {
		return cfg
	}
	cfg := c.base.Copy()
	if t.RoleARN != "" {
		stsClient := sts.NewFromConfig(c.base, func(o *sts.Options) {
			o.Region = t.Region
			if c.opts.STSEndpoint != "" {
				o.BaseEndpoint = aws.String(c.opts.STSEndpoint)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "eks-access-operator"
			if t.ExternalID != "" {
				o.ExternalID = aws.String(t.ExternalID)
			}
		}))
	}
	c.configs[t] = cfg
	return cfg
}

// limiter is shared by every target in one account and region: EKS limits per
// account. The operator's own credentials are one account; a role names its own.
func (c *SDKClients) limiter(t Target) *rate.Limiter {
	if c.opts.QPS <= 0 {
		return nil
	}
	key := limiterAccount(t) + "/" + t.Region
	if l, ok := c.limiters[key]; ok {
		return l
	}
	l := rate.NewLimiter(rate.Limit(c.opts.QPS), max(c.opts.Burst, 1))
	c.limiters[key] = l
	return l
}

// limiterAccount names the account a target's calls count against: "self" for
// the operator's own credentials, the role's account otherwise.
func limiterAccount(t Target) string {
	if account, ok := awsarn.AccountOf(t.RoleARN); ok {
		return account
	}
	return "self"
}

// attemptMiddleware waits for the rate limiter before each attempt and counts its
// outcome by operation.
func attemptMiddleware(limiter *rate.Limiter) middleware.FinalizeMiddleware {
	return middleware.FinalizeMiddlewareFunc("eksAccessAttempt", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if limiter != nil {
			if err := limiter.Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
		}
		out, md, err := next.HandleFinalize(ctx, in)
		eksRequests.WithLabelValues(awsmiddleware.GetOperationName(ctx), callOutcome(err)).Inc()
		return out, md, err
	})
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

// errKind is what the controller does about an EKS error.
type errKind int

const (
	// errTransient: return the error; the workqueue retries with backoff.
	errTransient errKind = iota
	// errNotFound: the entry (or association) is absent; success for a delete.
	errNotFound
	// errClusterNotFound: no such cluster in this account and region; check again later.
	errClusterNotFound
	// errInUse: the entry already exists.
	errInUse
	// errInvalidPrincipal: EKS does not know the principal, often because IAM has
	// not propagated a new role yet; retry with backoff, then stall.
	errInvalidPrincipal
	// errInvalid: EKS refused the input; a person has to change the spec.
	errInvalid
	// errModeNotSupported: the cluster authenticates through the aws-auth
	// ConfigMap only; someone has to switch its authentication mode.
	errModeNotSupported
	// errThrottled: slow down; retry with backoff.
	errThrottled
	// errAccessDenied: the operator's IAM identity lacks a permission.
	errAccessDenied
	// errLimitExceeded: the cluster has reached its quota of access entries.
	errLimitExceeded
)

// classify maps an EKS error to what the controller does about it. It is the one
// place that looks at the SDK's error types.
func classify(err error) errKind {
	var (
		notFound    *types.ResourceNotFoundException
		inUse       *types.ResourceInUseException
		limit       *types.ResourceLimitExceededException
		invalidPar  *types.InvalidParameterException
		invalidReq  *types.InvalidRequestException
		tagNotFound *types.NotFoundException
		badRequest  *types.BadRequestException
		apiErr      smithy.APIError
		respErr     *smithyhttp.ResponseError
	)
	switch {
	case errors.As(err, &notFound):
		if strings.Contains(aws.ToString(notFound.Message), "No cluster found") {
			return errClusterNotFound
		}
		return errNotFound
	case errors.As(err, &tagNotFound):
		return errNotFound
	case errors.As(err, &inUse):
		return errInUse
	case errors.As(err, &limit):
		return errLimitExceeded
	case errors.As(err, &invalidPar):
		if strings.Contains(aws.ToString(invalidPar.Message), "invalid principal") {
			return errInvalidPrincipal
		}
		return errInvalid
	case errors.As(err, &invalidReq):
		if strings.Contains(aws.ToString(invalidReq.Message), "authentication mode") {
			return errModeNotSupported
		}
		return errInvalid
	case errors.As(err, &badRequest):
		return errInvalid
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException":
		return errAccessDenied
	case errors.As(err, &apiErr) && isThrottle(apiErr.ErrorCode()):
		return errThrottled
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusTooManyRequests:
		return errThrottled
	}
	return errTransient
}

func isThrottle(code string) bool {
	switch code {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded":
		return true
	}
	return false
}

// eksMessage is EKS's own message for an API error, without the SDK's wrapping.
func eksMessage(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorMessage()
	}
	return err.Error()
}

// operationOf names the EKS operation an error came from, for AccessDenied messages.
func operationOf(err error) string {
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) {
		return "eks:" + opErr.OperationName
	}
	return "an EKS action"
}

// errorf wraps an EKS error with what the controller was doing.
func errorf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
