package awsapi

import "testing"

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
