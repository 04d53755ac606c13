package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/time/rate"

	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/budget"
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
	// Budget schedules the calls of every account and region under its rate
	// budget; nil when calls are not limited.
	Budget() *budget.Scheduler
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
	// BackgroundQPS bounds, within QPS, the calls of background verification and
	// sweeps per account and region (default: a tenth of QPS).
	BackgroundQPS float64
	// MaxAttempts is how often the SDK tries one call (throttling and 5xx are retried).
	MaxAttempts int
}

// SDKClients builds one *eks.Client a target from a base AWS config. Every attempt
// of a call spends a token of its account and region's budget (budget.Scheduler),
// shared by every worker: from the tokens the pass reserved, else from what the
// budget holds now; when it holds none the call fails at once with errOverBudget
// and the object is queued for its turn, so that no worker waits for an account's
// line (only, at most 250ms, to space a call from the account's others). Throttling is not retried by the SDK: it slows the account's
// budget instead. Every attempt is counted in the eks_access_operator_eks_requests_total
// metric. Assumed-role credentials are cached and refreshed by the SDK.
type SDKClients struct {
	base   aws.Config
	opts   ClientOptions
	budget *budget.Scheduler

	mu      sync.Mutex
	configs map[Target]aws.Config
	clients map[Target]EKSAPI
	iam     iamState
}

// NewSDKClients returns clients that build on cfg (credentials from the SDK's chain).
func NewSDKClients(cfg aws.Config, opts ClientOptions) *SDKClients {
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 5
	}
	c := &SDKClients{base: cfg, opts: opts, configs: map[Target]aws.Config{}, clients: map[Target]EKSAPI{},
		iam: iamState{clients: map[Target]IAMAPI{}, accounts: map[Target][2]string{}, unreachable: map[Target]time.Time{}, limiters: map[string]*rate.Limiter{}}}
	if opts.QPS > 0 {
		// Tokens set aside for an object that is slow to come and spend them go
		// back after about one bucket's worth of time: held longer, they would
		// let calls bunch beyond the burst EKS allows.
		hold := max(time.Second, time.Duration(float64(max(opts.Burst, 1))/opts.QPS*float64(time.Second)))
		c.budget = budget.New(budget.Options{QPS: opts.QPS, Burst: max(opts.Burst, 1), BackgroundQPS: cmp.Or(opts.BackgroundQPS, opts.QPS/10), HoldFor: hold})
	}
	return c
}

// Budget is the scheduler of every account's calls; nil without --eks-qps.
func (c *SDKClients) Budget() *budget.Scheduler { return c.budget }

// For returns the client of a target, building it on first use.
func (c *SDKClients) For(t Target) EKSAPI {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[t]; ok {
		return cl
	}
	key := budgetKey(t)
	cl := eks.NewFromConfig(c.configFor(t), func(o *eks.Options) {
		o.Region = t.Region
		if c.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.opts.Endpoint)
		}
		// The SDK's retry quota turns a burst of throttling into errors that are
		// not EKS's; our own budget paces us instead. A throttled call is not
		// retried in place, where it would hold a worker through the SDK's backoff:
		// the budget slows the account and the object waits its turn.
		o.Retryer = noThrottleRetries{retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = c.opts.MaxAttempts
			so.RateLimiter = ratelimit.None
			so.MaxBackoff = 2 * time.Second
		})}
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			// After Retry, so that every attempt takes a token and is counted.
			return stack.Finalize.Insert(attemptMiddleware(c.budget, key), "Retry", middleware.After)
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

// budgetKey is the budget a target's calls spend: EKS limits per account and
// region. The operator's own credentials are one account; a role names its own.
func budgetKey(t Target) budget.Key {
	return budget.Key{Account: limiterAccount(t), Region: t.Region}
}

// limiterAccount names the account a target's calls count against: "self" for
// the operator's own credentials, the role's account otherwise.
func limiterAccount(t Target) string {
	if account, ok := awsarn.AccountOf(t.RoleARN); ok {
		return account
	}
	return "self"
}

// attemptMiddleware spends a token of the account's budget on each attempt, or
// fails it with errOverBudget when there is none, and counts its outcome by
// operation. A throttled attempt slows the account's budget.
func attemptMiddleware(s *budget.Scheduler, key budget.Key) middleware.FinalizeMiddleware {
	return middleware.FinalizeMiddlewareFunc("eksAccessAttempt", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if s != nil {
			if err := spendToken(ctx, s, key); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
		}
		out, md, err := next.HandleFinalize(ctx, in)
		outcome := callOutcome(err)
		eksRequests.WithLabelValues(awsmiddleware.GetOperationName(ctx), outcome).Inc()
		if s != nil && classify(err) == errThrottled {
			s.Throttled(key)
			eksThrottled.WithLabelValues(key.Account, key.Region).Inc()
		}
		return out, md, err
	})
}

// noThrottleRetries is the SDK's standard retryer, except that it never retries
// throttling: see SDKClients.
type noThrottleRetries struct{ aws.RetryerV2 }

func (r noThrottleRetries) IsErrorRetryable(err error) bool {
	return classify(err) != errThrottled && r.RetryerV2.IsErrorRetryable(err)
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

// errKind is what the controller does about an AWS error. Each kind is one cause;
// the table test in errors_test.go lists every EKS, STS and IAM code and its kind.
type errKind int

const (
	// errTransient: return the error; the workqueue retries with backoff (5xx,
	// network, anything not known).
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
	// errInvalidSpec: EKS refused what the spec says (a reserved username, a
	// system: group, a policy the type cannot take); only a spec change helps.
	errInvalidSpec
	// errRefused: EKS refused the request for a reason outside the spec (tags set
	// out of band that leave no room, the cluster's state, a rule it has not told
	// us about); checked again every --recheck-interval, with drift healing on.
	errRefused
	// errModeNotSupported: the cluster authenticates through the aws-auth
	// ConfigMap only; someone has to switch its authentication mode.
	errModeNotSupported
	// errThrottled: slow down; retry with backoff.
	errThrottled
	// errAccessDenied: the operator's IAM identity lacks a permission.
	errAccessDenied
	// errAssumeRoleDenied: STS refused to let the operator assume the target's role
	// (its trust policy, the external ID, or the operator's sts:AssumeRole).
	errAssumeRoleDenied
	// errBadCredentials: AWS does not accept the operator's credentials at all
	// (expired, unknown key, a web identity token it refuses).
	errBadCredentials
	// errLimitExceeded: the cluster has reached its quota of access entries.
	errLimitExceeded
	// errBudgetSpent: the operator's own budget of calls for the account and
	// region holds no token now (errOverBudget); the object waits its turn.
	errBudgetSpent
)

// codeKinds are the error codes whose kind does not depend on the message: EKS's
// (service/eks/types), STS's and the common ones of every AWS service. Codes are
// compared as strings, not as SDK types: an operation's deserializer only knows
// the codes its model declares, and EKS answers with others too (an
// InvalidParameterException from ListAssociatedAccessPolicies reaches us as a
// generic API error with that code).
var codeKinds = map[string]errKind{
	// EKS
	"ResourceNotFoundException":            errNotFound,
	"NotFoundException":                    errNotFound,
	"ResourceInUseException":               errInUse,
	"ResourceLimitExceededException":       errLimitExceeded,
	"ResourcePropagationDelayException":    errTransient,
	"ServerException":                      errTransient,
	"ServiceUnavailableException":          errTransient,
	"AccessDeniedException":                errAccessDenied,
	"InvalidStateException":                errRefused,
	"UnsupportedAvailabilityZoneException": errRefused,
	"InvalidParameterException":            errInvalidSpec, // refined by the message
	"InvalidRequestException":              errInvalidSpec, // refined by the message
	"BadRequestException":                  errInvalidSpec, // refined by the message
	"ClientException":                      errInvalidSpec, // refined by the message
	// Throttling, as the SDK's retryer names it across services.
	"ThrottlingException":       errThrottled,
	"Throttling":                errThrottled,
	"TooManyRequestsException":  errThrottled,
	"RequestLimitExceeded":      errThrottled,
	"RequestThrottled":          errThrottled,
	"RequestThrottledException": errThrottled,
	"SlowDown":                  errThrottled,
	// Credentials, for any service (SigV4 and STS).
	"UnrecognizedClientException": errBadCredentials,
	"InvalidClientTokenId":        errBadCredentials,
	"InvalidSignatureException":   errBadCredentials,
	"SignatureDoesNotMatch":       errBadCredentials,
	"ExpiredToken":                errBadCredentials,
	"ExpiredTokenException":       errBadCredentials,
	"InvalidIdentityToken":        errBadCredentials,
	"IDPRejectedClaim":            errBadCredentials,
	"IDPCommunicationError":       errTransient,
	// STS refusing a role: AssumeRole declares none of these, so they are generic.
	"AccessDenied":                       errAssumeRoleDenied,
	"RegionDisabledException":            errAssumeRoleDenied,
	"MalformedPolicyDocument":            errAssumeRoleDenied,
	"PackedPolicyTooLarge":               errAssumeRoleDenied,
	"SessionDurationEscalationException": errAssumeRoleDenied,
	// STS refusing the operator's own web identity (IRSA) or trade-in token.
	"JWTPayloadSizeExceededException": errBadCredentials,
	"ExpiredTradeInTokenException":    errBadCredentials,
}

// String names the kind, for the table test and logs.
func (k errKind) String() string {
	return [...]string{"transient", "not-found", "cluster-not-found", "in-use", "invalid-principal", "invalid-spec", "refused",
		"mode-not-supported", "throttled", "access-denied", "assume-role-denied", "bad-credentials", "limit-exceeded", "budget-spent"}[k]
}

// specFaults are (lowercased) pieces of EKS's refusals that name something the
// spec says: these are InvalidSpec. A refusal matching none is taken as caused
// from outside the spec and checked again, so that an unknown wording never
// freezes an object for good.
var specFaults = []string{
	"username",
	"{{sessionname}}",
	"kubernetes group", "kubernetesgroups", "group name",
	`type of "standard"`, "is not valid. valid types", "access entry type", "entries of type",
	"access policy", "policyarn",
	"namespace", "access scope", "accessscope",
	"principalarn is invalid", "service-linked role", "assumed-role", "iam role", "not a valid iam",
	"tag key", "tag value",
}

// outsideFaults are pieces of refusals caused from outside the spec even though
// they also match a spec fault (a tag limit filled by others' tags).
var outsideFaults = []string{"too many tags", "tags per resource", "tag limit"}

// classify maps an AWS error to what the controller does about it. It is the one
// place that looks at the SDK's errors.
func classify(err error) errKind {
	var (
		apiErr  smithy.APIError
		respErr *smithyhttp.ResponseError
		over    *errOverBudget
	)
	switch {
	case err == nil:
		return errTransient
	case errors.As(err, &over):
		return errBudgetSpent
	case errors.As(err, &apiErr):
		return kindOf(apiErr.ErrorCode(), apiErr.ErrorMessage())
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusTooManyRequests:
		return errThrottled
	}
	return errTransient
}

// kindOf is the kind of an error code and message.
func kindOf(code, message string) errKind {
	kind, known := codeKinds[code]
	if !known {
		return errTransient
	}
	msg := strings.ToLower(message)
	switch {
	case kind == errNotFound && code == "ResourceNotFoundException" && strings.Contains(msg, "no cluster found"):
		return errClusterNotFound
	case kind != errInvalidSpec:
		return kind
	case code == "InvalidParameterException" && strings.Contains(msg, "invalid principal"):
		return errInvalidPrincipal
	case code == "InvalidRequestException" && strings.Contains(msg, "authentication mode"):
		return errModeNotSupported
	case containsAny(msg, outsideFaults):
		return errRefused
	case containsAny(msg, specFaults):
		return errInvalidSpec
	}
	return errRefused
}

func containsAny(s string, parts []string) bool {
	return slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(s, p) })
}

// assumedRole is the role STS refused to let the operator assume, read from the
// error: the resource STS names, or "" when the error is not STS's.
func assumedRole(err error) string {
	var opErr *smithy.OperationError
	for e := err; errors.As(e, &opErr); e = opErr.Err {
		if opErr.ServiceID == "STS" {
			msg := eksMessage(opErr.Err)
			if _, role, ok := strings.Cut(msg, "on resource: "); ok {
				return strings.TrimSpace(role)
			}
			return ""
		}
	}
	return ""
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
