package awsapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
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
	ListRoles(context.Context, *iam.ListRolesInput, ...func(*iam.Options)) (*iam.ListRolesOutput, error)
}

var _ IAMAPI = (*iam.Client)(nil)

var (
	// ErrNoSuchPrincipal: IAM has no principal of that ARN.
	ErrNoSuchPrincipal = errors.New("IAM has no such principal")
	// ErrPrincipalUnknowable: IAM cannot be asked (the principal is in another
	// account than the credentials, the read is denied, IAM is unreachable).
	ErrPrincipalUnknowable = errors.New("IAM cannot tell the principal's ID")
	// ErrIAMBusy: the lookup was not made, to stay within the IAM rate; ask again later.
	ErrIAMBusy = errors.New("IAM lookups are at their rate limit")
)

const (
	// iamPause is how long IAM is left alone after it could not be reached (a
	// private network without a route to IAM): no reconcile waits on it meanwhile.
	iamPause = 10 * time.Minute
	// iamTimeout bounds one lookup, retries included.
	iamTimeout = 15 * time.Second
)

// iamState is what Clients keeps for IAM lookups and the accounts it learned.
// Guarded by Clients.mu.
type iamState struct {
	clients     map[Target]IAMAPI
	accounts    map[string]identity  // the operator's own account and partition, by region
	unreachable map[Target]time.Time // no lookups for the target until then
	limiters    map[string]*rate.Limiter
}

// PrincipalID reads the unique ID of a principal, and when IAM created it, in
// the account the target's credentials act in: the role's account for a target
// with a role, otherwise the operator's own. A lookup over the account's IAM
// rate is not waited for but skipped (ErrIAMBusy), so that it never slows EKS
// work down.
func (c *Clients) PrincipalID(ctx context.Context, t Target, arn string) (id string, created time.Time, err error) {
	principal, ok := awsarn.ParsePrincipal(arn)
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w: %s is not an IAM role or user ARN", ErrPrincipalUnknowable, arn)
	}
	c.mu.Lock()
	paused := time.Now().Before(c.iam.unreachable[t])
	c.mu.Unlock()
	if paused {
		return "", time.Time{}, fmt.Errorf("%w: IAM was unreachable a moment ago", ErrPrincipalUnknowable)
	}
	ctx, cancel := context.WithTimeout(ctx, iamTimeout)
	defer cancel()

	self, _, err := c.Account(ctx, t)
	if err != nil {
		return "", time.Time{}, c.iamFailed(t, err)
	}
	if self != principal.Account {
		return "", time.Time{}, fmt.Errorf("%w: %s is in account %s and the operator reads IAM as account %s", ErrPrincipalUnknowable, arn, principal.Account, self)
	}
	cl, limiter := c.iamFor(t)
	if !limiter.Allow() {
		return "", time.Time{}, ErrIAMBusy
	}
	got, id, created, err := getPrincipal(ctx, cl, principal)
	if err != nil {
		return "", time.Time{}, c.iamFailed(t, err)
	}
	if got != arn || id == "" {
		// The name is taken by a principal at another path (or in another case):
		// not the one the spec names, and not one to act on.
		return "", time.Time{}, fmt.Errorf("%w: IAM's %s named %s is %s", ErrPrincipalUnknowable, principal.Kind, principal.Name, got)
	}
	return id, created, nil
}

// getPrincipal reads a role or user: its ARN, unique ID and creation time.
func getPrincipal(ctx context.Context, cl IAMAPI, p awsarn.Principal) (arn, id string, created time.Time, err error) {
	if p.Kind == "role" {
		out, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.Name)})
		if err != nil {
			return "", "", time.Time{}, err
		}
		return aws.ToString(out.Role.Arn), aws.ToString(out.Role.RoleId), aws.ToTime(out.Role.CreateDate), nil
	}
	out, err := cl.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(p.Name)})
	if err != nil {
		return "", "", time.Time{}, err
	}
	return aws.ToString(out.User.Arn), aws.ToString(out.User.UserId), aws.ToTime(out.User.CreateDate), nil
}

// iamFailed maps a failed lookup to ErrNoSuchPrincipal or ErrPrincipalUnknowable,
// and pauses lookups for the target when IAM could not be reached at all.
func (c *Clients) iamFailed(t Target, err error) error {
	var noSuch *iamtypes.NoSuchEntityException
	if errors.As(err, &noSuch) {
		return ErrNoSuchPrincipal
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		c.mu.Lock()
		c.iam.unreachable[t] = time.Now().Add(iamPause)
		c.mu.Unlock()
	}
	return fmt.Errorf("%w: %w", ErrPrincipalUnknowable, err)
}

// iamFor returns the IAM client of a target, with the target's credentials, and
// the limiter of its account.
func (c *Clients) iamFor(t Target) (IAMAPI, *rate.Limiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	account := limiterAccount(t)
	limiter, ok := c.iam.limiters[account]
	if !ok {
		limiter = rate.NewLimiter(rate.Limit(c.opts.IAMQPS), max(int(c.opts.IAMQPS), 1))
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
