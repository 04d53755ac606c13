package awsapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// EKSAPI is the part of the EKS API the operator calls, in the SDK's own
// signatures: *eks.Client satisfies it and the SDK's paginators accept it.
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

// Target is where calls go: a region, and the IAM role to assume for a cluster
// in another account (empty: the operator's own credentials).
type Target struct {
	Region     string
	RoleARN    string
	ExternalID string
}

// Options configure the clients. Every field has a working value in
// DefaultOptions; Validate says which flag to fix when one has not.
type Options struct {
	// Endpoint overrides the EKS endpoint (the emulator, or a VPC endpoint).
	Endpoint string
	// STSEndpoint overrides the STS endpoint used to assume roles and to learn the
	// operator's own account.
	STSEndpoint string
	// IAMEndpoint overrides the IAM endpoint used to read principals' unique IDs.
	IAMEndpoint string
	// IAMQPS bounds those reads per account.
	IAMQPS float64
	// MaxAttempts is how often the SDK tries one call (5xx and network errors are
	// retried; throttling never is: the budget slows the account instead).
	MaxAttempts int
}

// DefaultOptions are the options of the flags' defaults.
func DefaultOptions() Options { return Options{IAMQPS: 5, MaxAttempts: 5} }

// Validate names the flag that holds a value the clients cannot work with.
func (o Options) Validate() error {
	var errs []error
	if o.IAMQPS <= 0 {
		errs = append(errs, fmt.Errorf("--iam-qps is %g: it must be above 0 (the default is 5 a second per account)", o.IAMQPS))
	}
	if o.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("the SDK's attempts per call are %d: at least 1 is needed", o.MaxAttempts))
	}
	return errors.Join(errs...)
}

// Clients builds one EKS client a target from a base AWS config. With a budget,
// every attempt of a call spends a token of its account and region's budget,
// shared by every worker: from the tokens the pass reserved (its Slot), else
// from what the budget holds now; when it holds none the call fails at once with
// OverBudgetError and the work is queued for its turn, so that no worker waits
// for an account's line. Throttling is not retried by the SDK: it slows the
// account's budget instead. Every attempt is counted in the
// eks_access_operator_eks_requests_total metric. Assumed-role credentials are
// cached and refreshed by the SDK.
type Clients struct {
	base   aws.Config
	opts   Options
	budget *budget.Scheduler

	mu      sync.Mutex
	configs map[Target]aws.Config
	clients map[Target]EKSAPI
	iam     iamState
	sso     ssoState
	// lookups makes concurrent asks for the same account one STS call.
	lookups singleflight.Group
	// own remembers the operator's writes, to know their events (OwnWrite).
	own ownWrites
}

// NewClients returns clients that build on cfg (credentials from the SDK's
// chain) and meter their calls with s; nil s leaves calls unmetered.
func NewClients(cfg aws.Config, opts Options, s *budget.Scheduler) (*Clients, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Clients{base: cfg, opts: opts, budget: s, configs: map[Target]aws.Config{}, clients: map[Target]EKSAPI{},
		iam: iamState{clients: map[Target]IAMAPI{}, accounts: map[string]identity{}, unreachable: map[Target]time.Time{}, limiters: map[string]*rate.Limiter{}}}, nil
}

// Budget is the scheduler of every account's calls; nil when unmetered.
func (c *Clients) Budget() *budget.Scheduler { return c.budget }

// For returns the EKS client of a target, building it on first use.
func (c *Clients) For(t Target) EKS {
	return EKS{api: c.api(t)}
}

// api is the SDK client of a target.
func (c *Clients) api(t Target) EKSAPI {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[t]; ok {
		return cl
	}
	key := BudgetKey(t)
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
		}, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(c.own.middleware(c, t), middleware.After)
		})
	})
	c.clients[t] = cl
	return cl
}

// configFor is the AWS config of a target: the base one, or credentials of the
// target's role, assumed through STS and cached and refreshed by the SDK. One per
// target, so that EKS and IAM clients of a target share the cached credentials.
// Caller holds c.mu.
func (c *Clients) configFor(t Target) aws.Config {
	if cfg, ok := c.configs[t]; ok {
		return cfg
	}
	cfg := targetConfig(c.base, c.sts(t.Region), t, "eks-access-operator")
	c.configs[t] = cfg
	return cfg
}

// targetConfig is base with the credentials of the target's role, assumed
// through stsClient as session and cached by the SDK; base itself for a target
// without a role.
func targetConfig(base aws.Config, stsClient *sts.Client, t Target, session string) aws.Config {
	cfg := base.Copy()
	if t.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = session
			if t.ExternalID != "" {
				o.ExternalID = aws.String(t.ExternalID)
			}
		}))
	}
	return cfg
}

// sts is an STS client of the operator's own credentials in a region.
func (c *Clients) sts(region string) *sts.Client {
	return sts.NewFromConfig(c.base, func(o *sts.Options) {
		o.Region = region
		if c.opts.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(c.opts.STSEndpoint)
		}
	})
}

// BudgetKey is the budget a target's calls spend: EKS limits per account and
// region. The operator's own credentials are one account; a role names its own.
func BudgetKey(t Target) budget.Key {
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

// identity is an account and its partition, and the ARN STS says the
// credentials act as there.
type identity struct{ account, partition, arn string }

// Account is the account, and its partition, that a target's calls act in: the
// role's for a target with a role, otherwise the operator's own, asked of STS
// once a region. Workers that ask at once for the same region share one call.
func (c *Clients) Account(ctx context.Context, t Target) (account, partition string, err error) {
	if t.RoleARN != "" {
		a, err := arn.Parse(t.RoleARN)
		if err != nil || a.AccountID == "" {
			return "", "", fmt.Errorf("%s is not a role ARN", t.RoleARN)
		}
		return a.AccountID, a.Partition, nil
	}
	c.mu.Lock()
	known, ok := c.iam.accounts[t.Region]
	c.mu.Unlock()
	if ok {
		return known.account, known.partition, nil
	}
	v, err, _ := c.lookups.Do(t.Region, func() (any, error) { return c.callerIdentity(ctx, t.Region) })
	if err != nil {
		return "", "", err
	}
	id := v.(identity)
	return id.account, id.partition, nil
}

// callerIdentity asks STS who the operator's own credentials are in a region,
// and remembers the answer.
func (c *Clients) callerIdentity(ctx context.Context, region string) (identity, error) {
	out, err := c.sts(region).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return identity{}, err
	}
	id := identity{account: aws.ToString(out.Account), partition: "aws", arn: aws.ToString(out.Arn)}
	if a, err := arn.Parse(aws.ToString(out.Arn)); err == nil {
		id.partition = a.Partition
	}
	c.mu.Lock()
	c.iam.accounts[region] = id
	c.mu.Unlock()
	return id, nil
}
