package awsapi

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// IAM Identity Center provisions, for each permission set assigned to an
// account, a role named AWSReservedSSO_<set>_<16 hex digits> under the path
// /aws-reserved/sso.amazonaws.com/, in some accounts with a region segment after
// it. The suffix differs per account and changes when the assignment is
// provisioned again. Lookups list the account's roles under that path, every
// page, and pick the set's by name: IAM offers no lookup by a part of a name.

// SSORolePath is the path of every role Identity Center provisions.
const SSORolePath = "/aws-reserved/sso.amazonaws.com/"

// ssoListingAge is how long one listing of an account's Identity Center roles
// answers every lookup made with the same target's credentials: a thousand
// AccessEntries naming sets of one account cost one listing, not a thousand.
const ssoListingAge = 15 * time.Second

// Role is an IAM role as ListRoles shows it.
type Role struct {
	ARN, ID string
	Created time.Time
}

// ssoListing is one listing of a target's Identity Center roles; done is
// closed once roles and err are set.
type ssoListing struct {
	done  chan struct{}
	at    time.Time
	roles []Role
	err   error
}

// ssoState holds the latest listing of each target. Guarded by its own mutex.
type ssoState struct {
	mu       sync.Mutex
	listings map[Target]*ssoListing
}

// PermissionSetRoles lists the roles Identity Center provisioned for a
// permission set in account, read with the target's credentials (which must act
// in that account): one when the set is assigned, none when it is not, two
// while a re-provisioned role and its predecessor both exist. Lookups within
// ssoListingAge of each other share one listing; a listing whose first page is
// over the account's IAM rate is not waited for (ErrIAMBusy).
func (c *Clients) PermissionSetRoles(ctx context.Context, t Target, account, set string) ([]Role, error) {
	ctx, cancel := context.WithTimeout(ctx, iamTimeout)
	defer cancel()
	self, _, err := c.Account(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPrincipalUnknowable, err)
	}
	if self != account {
		return nil, fmt.Errorf("%w: the roles of account %s cannot be listed with credentials of account %s", ErrPrincipalUnknowable, account, self)
	}
	roles, err := c.ssoRoles(ctx, t)
	if err != nil {
		return nil, err
	}
	var out []Role
	for _, r := range roles {
		if IsPermissionSetRole(r.ARN, set) {
			out = append(out, r)
		}
	}
	return out, nil
}

// ssoRoles is the target's latest listing of Identity Center roles, made now
// when the last one is older than ssoListingAge (or failed); concurrent
// lookups wait for the one listing under way.
func (c *Clients) ssoRoles(ctx context.Context, t Target) ([]Role, error) {
	c.sso.mu.Lock()
	if c.sso.listings == nil {
		c.sso.listings = map[Target]*ssoListing{}
	}
	l := c.sso.listings[t]
	if l == nil || isDone(l) && (l.err != nil || l.at.Before(time.Now().Add(-ssoListingAge))) {
		l = &ssoListing{done: make(chan struct{})}
		c.sso.listings[t] = l
		// The listing serves every waiter, so it runs on its own time, not the
		// first caller's: a caller whose context ends stops waiting, and the
		// others still get their answer.
		go func() {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), iamTimeout)
			defer cancel()
			l.roles, l.err = c.listSSORoles(lctx, t)
			l.at = time.Now()
			close(l.done)
		}()
	}
	c.sso.mu.Unlock()
	select {
	case <-l.done:
		return l.roles, l.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrPrincipalUnknowable, ctx.Err())
	}
}

func isDone(l *ssoListing) bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// listSSORoles reads every page of ListRoles under SSORolePath: the first page
// only when the account's IAM rate allows it now, the others as it allows.
func (c *Clients) listSSORoles(ctx context.Context, t Target) ([]Role, error) {
	cl, limiter := c.iamFor(t)
	if !limiter.Allow() {
		return nil, ErrIAMBusy
	}
	var roles []Role
	in := &iam.ListRolesInput{PathPrefix: aws.String(SSORolePath), MaxItems: aws.Int32(1000)}
	for page := 0; ; page++ {
		if page > 0 {
			if err := limiter.Wait(ctx); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrPrincipalUnknowable, err)
			}
		}
		out, err := cl.ListRoles(ctx, in)
		if err != nil {
			return nil, c.iamFailed(t, err)
		}
		for _, r := range out.Roles {
			roles = append(roles, Role{ARN: aws.ToString(r.Arn), ID: aws.ToString(r.RoleId), Created: aws.ToTime(r.CreateDate)})
		}
		if !out.IsTruncated || aws.ToString(out.Marker) == "" {
			return roles, nil
		}
		in.Marker = out.Marker
	}
}

// PermissionSetOfRole is the permission set whose Identity Center role arn
// names (IsPermissionSetRole); false for any other ARN.
func PermissionSetOfRole(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn[strings.LastIndex(arn, "/")+1:], "AWSReservedSSO_")
	i := strings.LastIndex(rest, "_")
	if !ok || i <= 0 || !IsPermissionSetRole(arn, rest[:i]) {
		return "", false
	}
	return rest[:i], true
}

// IsPermissionSetRole reports whether arn is a role Identity Center provisions
// for the permission set: AWSReservedSSO_<set>_<16 lowercase hex digits>, at
// SSORolePath or one region segment below it. The set is matched exactly: the
// role of set Dev_Admin is not one of set Dev.
func IsPermissionSetRole(arn, set string) bool {
	_, rest, ok := strings.Cut(arn, ":role"+SSORolePath)
	if !ok {
		return false
	}
	if region, name, nested := strings.Cut(rest, "/"); nested {
		if region == "" || strings.Contains(name, "/") {
			return false
		}
		rest = name
	}
	suffix, ok := strings.CutPrefix(rest, "AWSReservedSSO_"+set+"_")
	if !ok || len(suffix) != 16 {
		return false
	}
	return strings.Trim(suffix, "0123456789abcdef") == ""
}
