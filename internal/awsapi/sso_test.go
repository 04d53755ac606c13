package awsapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// TestIsPermissionSetRole: the role of a set is AWSReservedSSO_<set>_<16 hex>
// at Identity Center's path or one region segment below it, the set matched
// exactly.
func TestIsPermissionSetRole(t *testing.T) {
	const base = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/"
	cases := []struct {
		arn, set string
		want     bool
	}{
		{base + "AWSReservedSSO_Developers_0123456789abcdef", "Developers", true},
		{base + "eu-west-1/AWSReservedSSO_Developers_0123456789abcdef", "Developers", true},
		{"arn:aws-cn:iam::111122223333:role/aws-reserved/sso.amazonaws.com/cn-north-1/AWSReservedSSO_Developers_0123456789abcdef", "Developers", true},
		{base + "AWSReservedSSO_Developers_Admin_0123456789abcdef", "Developers", false},
		{base + "AWSReservedSSO_Developers_Admin_0123456789abcdef", "Developers_Admin", true},
		{base + "AWSReservedSSO_developers_0123456789abcdef", "Developers", false},
		{base + "AWSReservedSSO_Developers_0123456789ABCDEF", "Developers", false},
		{base + "AWSReservedSSO_Developers_0123456789abcde", "Developers", false},
		{base + "a/b/AWSReservedSSO_Developers_0123456789abcdef", "Developers", false},
		{base + "/AWSReservedSSO_Developers_0123456789abcdef", "Developers", false},
		{"arn:aws:iam::111122223333:role/AWSReservedSSO_Developers_0123456789abcdef", "Developers", false},
		{"arn:aws:iam::111122223333:user/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Developers_0123456789abcdef", "Developers", false},
	}
	for _, tc := range cases {
		if got := IsPermissionSetRole(tc.arn, tc.set); got != tc.want {
			t.Errorf("IsPermissionSetRole(%s, %s) = %v, want %v", tc.arn, tc.set, got, tc.want)
		}
	}
}

// A listing shared by concurrent lookups runs on its own time: the first
// caller giving up does not fail the others.
func TestSharedListingOutlivesItsFirstCaller(t *testing.T) {
	emu, err := eksemulator.New(eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: "demo", Account: account, Region: region}},
		PermissionSets: []eksemulator.PermissionSetConfig{{Name: "Developers", Account: account}}})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		emu.ServeHTTP(w, r)
	}))
	c := newClients(t, url)
	target := Target{Region: region, RoleARN: roleARN("operator")}
	first, giveUp := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := c.PermissionSetRoles(first, target, account, "Developers")
		firstErr <- err
	}()
	time.Sleep(50 * time.Millisecond) // the first caller's listing is under way
	go func() {
		time.Sleep(50 * time.Millisecond)
		giveUp()
	}()
	roles, err := c.PermissionSetRoles(context.Background(), target, account, "Developers")
	if err != nil || len(roles) != 1 {
		t.Errorf("the second lookup: %v, %v; want the set's one role", roles, err)
	}
	if err := <-firstErr; err == nil {
		t.Error("the first caller gave up, and its lookup did not fail")
	}
}

func TestPermissionSetOfRole(t *testing.T) {
	const base = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/"
	for _, c := range []struct {
		arn, set string
	}{
		{base + "AWSReservedSSO_Developers_0123456789abcdef", "Developers"},
		{base + "eu-west-1/AWSReservedSSO_Dev_Admin_0123456789abcdef", "Dev_Admin"},
		{base + "AWSReservedSSO__0123456789abcdef", ""},
		{base + "AWSReservedSSO_Developers_0123", ""},
		{"arn:aws:iam::111122223333:role/AWSReservedSSO_Developers_0123456789abcdef", ""},
		{"arn:aws:iam::111122223333:user/AWSReservedSSO_Developers_0123456789abcdef", ""},
		{"not an arn", ""},
	} {
		set, ok := PermissionSetOfRole(c.arn)
		if set != c.set || ok != (c.set != "") {
			t.Errorf("PermissionSetOfRole(%s) = %q, %v; want %q", c.arn, set, ok, c.set)
		}
	}
}
