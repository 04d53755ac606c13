package awsapi

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

// The IAM lookup itself: the account its credentials act in only, the exact ARN
// only, IAM's own answers kept apart from what it cannot tell.
func TestPrincipalIDLookups(t *testing.T) {
	ctx := context.Background()
	emu := newEmulator(t, "API_AND_CONFIG_MAP")
	url := serve(t, emu.Handler())
	c := newClients(t, url)
	self := Target{Region: region}
	role, user := roleARN("lookup-role"), "arn:aws:iam::"+account+":user/lookup-user"
	emu.AddPrincipal(role)
	emu.AddPrincipal(user)
	emu.AddPrincipal("arn:aws:iam::" + account + ":role/team/lookup-pathed")
	getRoles := func() int { return emu.Calls()["GetRole"]["OK"] + emu.Calls()["GetRole"]["NoSuchEntity"] }

	if id, created, err := c.PrincipalID(ctx, self, role); err != nil || id != emu.PrincipalID(role) || created.IsZero() {
		t.Fatalf("role: %q %v %v, want %s", id, created, err, emu.PrincipalID(role))
	}
	if id, _, err := c.PrincipalID(ctx, self, user); err != nil || id != emu.PrincipalID(user) || !strings.HasPrefix(id, "AIDA") {
		t.Fatalf("user: %q %v, want %s", id, err, emu.PrincipalID(user))
	}
	if _, _, err := c.PrincipalID(ctx, self, roleARN("lookup-nobody")); !errors.Is(err, ErrNoSuchPrincipal) {
		t.Fatalf("unknown role: %v", err)
	}
	// Same name, other path: another principal than the ARN names.
	if _, _, err := c.PrincipalID(ctx, self, roleARN("lookup-pathed")); !errors.Is(err, ErrPrincipalUnknowable) {
		t.Fatalf("role at another path: %v", err)
	}
	before := getRoles()
	if _, _, err := c.PrincipalID(ctx, self, "arn:aws:iam::999988887777:role/lookup-role"); !errors.Is(err, ErrPrincipalUnknowable) ||
		!strings.Contains(err.Error(), "in account 999988887777") {
		t.Fatalf("a role in another account: %v", err)
	}
	if n := getRoles() - before; n != 0 {
		t.Fatalf("%d GetRole calls for a principal in another account", n)
	}

	// At most 5 lookups a second by default; one over that is not waited for.
	qps := int(DefaultOptions().IAMQPS)
	busy := 0
	for range 3 * qps {
		if _, _, err := c.PrincipalID(ctx, self, role); errors.Is(err, ErrIAMBusy) {
			busy++
		}
	}
	if busy == 0 {
		t.Fatalf("%d lookups at once were all made, the limit is %d a second", 3*qps, qps)
	}

	// IAM out of reach: unknowable, then left alone for a while.
	opts := DefaultOptions()
	opts.Endpoint, opts.STSEndpoint, opts.IAMEndpoint = url, url, "http://127.0.0.1:1"
	down, err := NewClients(awsConfig(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := down.PrincipalID(ctx, self, role); !errors.Is(err, ErrPrincipalUnknowable) {
		t.Fatalf("unreachable IAM: %v", err)
	}
	if _, _, err := down.PrincipalID(ctx, self, role); !errors.Is(err, ErrPrincipalUnknowable) || !strings.Contains(err.Error(), "unreachable a moment ago") {
		t.Fatalf("second lookup with IAM unreachable: %v", err)
	}
}

// TestIAMErrorClasses: IAM is only read, for principals' unique IDs; NoSuchEntity
// means the principal is gone, anything else that it cannot be told.
func TestIAMErrorClasses(t *testing.T) {
	c, err := NewClients(aws.Config{}, DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	iamErr := func(code string) error {
		return &smithy.OperationError{ServiceID: "IAM", OperationName: "GetRole", Err: &smithy.GenericAPIError{Code: code, Message: code}}
	}
	cases := []struct {
		err  error
		want error
	}{
		{&smithy.OperationError{ServiceID: "IAM", OperationName: "GetRole", Err: &iamtypes.NoSuchEntityException{Message: aws.String("no role")}}, ErrNoSuchPrincipal},
		{iamErr("AccessDenied"), ErrPrincipalUnknowable},
		{iamErr("ServiceFailure"), ErrPrincipalUnknowable},
		{iamErr("Throttling"), ErrPrincipalUnknowable},
		{errors.New("dial tcp: no route to host"), ErrPrincipalUnknowable},
	}
	for _, cs := range cases {
		if got := c.iamFailed(Target{Region: "us-west-2"}, cs.err); !errors.Is(got, cs.want) {
			t.Errorf("%v: %v, want %v", cs.err, got, cs.want)
		}
	}
	// IAM that cannot be reached at all is left alone for a while.
	c.mu.Lock()
	paused := c.iam.unreachable[Target{Region: "us-west-2"}].After(time.Now())
	c.mu.Unlock()
	if !paused {
		t.Error("an unreachable IAM was not paused")
	}
}
