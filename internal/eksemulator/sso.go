package eksemulator

import (
	"fmt"
	"strings"
	"time"
)

// IAM Identity Center provisions, for each permission set assigned to an
// account, an IAM role named AWSReservedSSO_<permission set>_<16 hex digits>
// under a reserved path, in some accounts with a region segment after it. The
// suffix differs per account and changes when the assignment is provisioned
// again, and the role gets a new unique ID.

// SSORolePath is the reserved path of Identity Center's roles.
const SSORolePath = "/aws-reserved/sso.amazonaws.com/"

// SSORoleARN is the ARN of the role Identity Center provisions for a permission
// set in an account, with the given suffix; region, when not "", adds the
// region segment to the path.
func SSORoleARN(account, permissionSet, region, suffix string) string {
	path := strings.TrimPrefix(SSORolePath, "/")
	if region != "" {
		path += region + "/"
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/%sAWSReservedSSO_%s_%s", PartitionOf(region), account, path, permissionSet, suffix)
}

// ReprovisionPermissionSet does what Identity Center does when a permission
// set's assignment to an account is provisioned again: the account's role for
// the set is deleted and one is created with a new suffix (and so a new ARN)
// and a new unique ID, under the same path. It returns the new ARN, or an
// error when the account holds no role of the set.
func (s *Server) ReprovisionPermissionSet(account, permissionSet string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := "AWSReservedSSO_" + permissionSet + "_"
	var old principalRef
	for arn := range s.principals {
		p, err := parsePrincipalARN(arn)
		if err == nil && p.Account == account && p.Kind == "role" && strings.HasPrefix(p.Path, SSORolePath) &&
			strings.HasPrefix(p.Name, prefix) && len(p.Name) == len(prefix)+16 {
			old = p
			break
		}
	}
	if old.ARN == "" {
		return "", fmt.Errorf("account %s holds no role of permission set %s", account, permissionSet)
	}
	delete(s.principals, old.ARN)
	s.deleted[old.ARN] = true
	arn := strings.TrimSuffix(old.ARN, old.Name) + prefix + s.randomString(16, "0123456789abcdef")
	s.addPrincipalLocked(arn, time.Now())
	return arn, nil
}
