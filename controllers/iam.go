package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// EKS binds an access entry to the unique ID of its IAM principal (AROA... for a
// role, AIDA... for a user), not to the ARN. A role deleted and created again under
// the same ARN gets a new ID, and the old entry silently stops granting anything:
// the operator reads the ID from IAM to notice, and recreates the entry.

// IAMAPI is the part of IAM the operator calls, in the SDK's own signatures.
type IAMAPI interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
}

var _ IAMAPI = (*iam.Client)(nil)

// Principals tells which IAM principal holds an ARN now.
type Principals interface {
	// PrincipalID returns the unique ID of the principal arn names and when IAM
	// created it, read with the target's credentials. errNoSuchPrincipal: IAM has
	// no such principal. errPrincipalUnknowable: IAM cannot be asked (the principal
	// is in another account than the credentials, the read is denied, IAM is
	// unreachable). errIAMBusy: not asked now, to stay within the rate limit.
	PrincipalID(ctx context.Context, t Target, arn string) (id string, created time.Time, err error)
}

var (
	errNoSuchPrincipal     = errors.New("IAM has no such principal")
	errPrincipalUnknowable = errors.New("IAM cannot tell the principal's ID")
	// errIAMBusy: the lookup was not made, to stay within the IAM rate; ask again later.
	errIAMBusy = errors.New("IAM lookups are at their rate limit")
)

const (
	// defaultIAMQPS bounds IAM reads, per account, unless ClientOptions.IAMQPS
	// says otherwise: IAM's quotas are account-wide and shared with everything
	// else in the account. A lookup over the limit is not waited for but skipped
	// (errIAMBusy), so that it never slows EKS work down.
	defaultIAMQPS = 5
	// iamPause is how long IAM is left alone after it could not be reached (a
	// private network without a route to IAM): no reconcile waits on it meanwhile.
	iamPause = 10 * time.Minute
	// iamTimeout bounds one lookup, retries included.
	iamTimeout = 15 * time.Second
)

// iamState is what SDKClients keeps for IAM lookups. Guarded by SDKClients.mu.
type iamState struct {
	clients     map[Target]IAMAPI
	accounts    map[Target][2]string // the account and partition the operator's own credentials act in, by region
	unreachable map[Target]time.Time // no lookups for the target until then
	limiters    map[string]*rate.Limiter
}

// PrincipalID reads the unique ID of a principal in the account the target's
// credentials act in: the role's account for a target with a role, otherwise the
// operator's own (asked of STS once).
func (c *SDKClients) PrincipalID(ctx context.Context, t Target, arn string) (id string, created time.Time, err error) {
	principal, ok := awsarn.ParsePrincipal(arn)
	account, kind, name := principal.Account, principal.Kind, principal.Name
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w: %s is not an IAM role or user ARN", errPrincipalUnknowable, arn)
	}
	c.mu.Lock()
	paused := time.Now().Before(c.iam.unreachable[t])
	c.mu.Unlock()
	if paused {
		return "", time.Time{}, fmt.Errorf("%w: IAM was unreachable a moment ago", errPrincipalUnknowable)
	}
	ctx, cancel := context.WithTimeout(ctx, iamTimeout)
	defer cancel()

	self, err := c.accountOf(ctx, t)
	if err != nil {
		return "", time.Time{}, c.iamFailed(t, err)
	}
	if self != account {
		return "", time.Time{}, fmt.Errorf("%w: %s is in account %s and the operator reads IAM as account %s", errPrincipalUnknowable, arn, account, self)
	}
	cl, limiter := c.iamFor(t)
	if !limiter.Allow() {
		return "", time.Time{}, errIAMBusy
	}
	var got string
	if kind == "role" {
		out, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			return "", time.Time{}, c.iamFailed(t, err)
		}
		id, got, created = aws.ToString(out.Role.RoleId), aws.ToString(out.Role.Arn), aws.ToTime(out.Role.CreateDate)
	} else {
		out, err := cl.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
		if err != nil {
			return "", time.Time{}, c.iamFailed(t, err)
		}
		id, got, created = aws.ToString(out.User.UserId), aws.ToString(out.User.Arn), aws.ToTime(out.User.CreateDate)
	}
	if got != arn || id == "" {
		// The name is taken by a principal at another path (or in another case):
		// not the one the spec names, and not one to act on.
		return "", time.Time{}, fmt.Errorf("%w: IAM's %s named %s is %s", errPrincipalUnknowable, kind, name, got)
	}
	return id, created, nil
}

// iamFailed maps a failed lookup to errNoSuchPrincipal or errPrincipalUnknowable,
// and pauses lookups for the target when IAM could not be reached at all.
func (c *SDKClients) iamFailed(t Target, err error) error {
	var noSuch *iamtypes.NoSuchEntityException
	if errors.As(err, &noSuch) {
		return errNoSuchPrincipal
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		c.mu.Lock()
		c.iam.unreachable[t] = time.Now().Add(iamPause)
		c.mu.Unlock()
	}
	return fmt.Errorf("%w: %w", errPrincipalUnknowable, err)
}

// accountOf is the account a target's credentials act in.
func (c *SDKClients) accountOf(ctx context.Context, t Target) (string, error) {
	account, _, err := c.Account(ctx, t)
	return account, err
}

// Account is the account, and its partition, that a target's calls act in: the
// role's for a target with a role, otherwise the operator's own, asked of STS
// once a region.
func (c *SDKClients) Account(ctx context.Context, t Target) (account, partition string, err error) {
	if t.RoleARN != "" {
		a, err := arn.Parse(t.RoleARN)
		if err != nil || a.AccountID == "" {
			return "", "", fmt.Errorf("%s is not a role ARN", t.RoleARN)
		}
		return a.AccountID, a.Partition, nil
	}
	self := Target{Region: t.Region}
	c.mu.Lock()
	known, ok := c.iam.accounts[self]
	c.mu.Unlock()
	if ok {
		return known[0], known[1], nil
	}
	out, err := sts.NewFromConfig(c.base, func(o *sts.Options) {
		o.Region = t.Region
		if c.opts.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(c.opts.STSEndpoint)
		}
	}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", err
	}
	account, partition = aws.ToString(out.Account), "aws"
	if a, err := arn.Parse(aws.ToString(out.Arn)); err == nil {
		partition = a.Partition
	}
	c.mu.Lock()
	c.iam.accounts[self] = [2]string{account, partition}
	c.mu.Unlock()
	return account, partition, nil
}

// iamFor returns the IAM client of a target, with the target's credentials, and
// the limiter of its account.
func (c *SDKClients) iamFor(t Target) (IAMAPI, *rate.Limiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	account := limiterAccount(t)
	limiter, ok := c.iam.limiters[account]
	if !ok {
		qps := c.opts.IAMQPS
		if qps <= 0 {
			qps = defaultIAMQPS
		}
		limiter = rate.NewLimiter(rate.Limit(qps), max(int(qps), 1))
		c.iam.limiters[account] = limiter
	}
	if cl, ok := c.iam.clients[t]; ok {
		return cl, limiter
	}
	cl := iam.NewFromConfig(c.configFor(t), func(o *iam.Options) {
		// IAM is global: the SDK resolves the region to its partition's endpoint.
		o.Region = t.Region
		if c.opts.IAMEndpoint != "" {
			o.BaseEndpoint = aws.String(c.opts.IAMEndpoint)
		}
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.RateLimiter = ratelimit.None
		})
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			// Counted in the metric; the limiter is checked once a lookup, up front.
			return stack.Finalize.Insert(attemptMiddleware(nil, budget.Key{}), "Retry", middleware.After)
		})
	})
	c.iam.clients[t] = cl
	return cl, limiter
}
