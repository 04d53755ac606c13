// Package awsarn reads the ARNs the operator deals with (IAM roles and users, EKS
// access policies, access entries) on the SDK's aws/arn, and knows what EKS
// derives from them. It imports nothing of Kubernetes, so that the kubectl plugin
// and the test tools link it without the controller manager.
package awsarn

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Partitions are the AWS partitions whose ARNs the operator accepts: every
// partition of aws-sdk-go-v2's endpoint rules (internal/endpoints/awsrulesfn/
// partitions.json), the European Sovereign Cloud's among them.
var Partitions = []string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}

// partitionRegions are the region prefixes of the partitions other than aws, as
// their regionRegex in the SDK's partitions.json has them, with a region of each.
var partitionRegions = []struct{ prefix, partition, example string }{
	{"cn-", "aws-cn", "cn-north-1"},
	{"us-gov-", "aws-us-gov", "us-gov-west-1"},
	{"us-iso-", "aws-iso", "us-iso-east-1"},
	{"us-isob-", "aws-iso-b", "us-isob-east-1"},
	{"eu-isoe-", "aws-iso-e", "eu-isoe-west-1"},
	{"us-isof-", "aws-iso-f", "us-isof-south-1"},
	{"eusc-", "aws-eusc", "eusc-de-east-1"},
}

// PartitionOfRegion is the partition a region belongs to: aws unless the region
// carries the prefix of another partition (cn-north-1 is aws-cn, eusc-de-east-1
// aws-eusc).
func PartitionOfRegion(region string) string {
	for _, p := range partitionRegions {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// ExampleRegion is a region of a partition (us-west-2 for aws and any partition
// not known), for messages and tests.
func ExampleRegion(partition string) string {
	for _, p := range partitionRegions {
		if p.partition == partition {
			return p.example
		}
	}
	return "us-west-2"
}

// Principal is an IAM role or user ARN, split into its parts.
type Principal struct {
	ARN       string
	Partition string
	Account   string
	// Kind is "role" or "user".
	Kind string
	// Path is "" or the path without its leading slash, such as "team/apps/".
	Path string
	Name string
}

// IsRole reports whether the principal is an IAM role.
func (p Principal) IsRole() bool { return p.Kind == "role" }

// ParsePrincipal splits arn:PARTITION:iam::ACCOUNT:role|user/PATH/NAME, in the forms
// the CRD accepts: a known partition, a 12-digit account, path segments and a name
// of 1 to 64 of IAM's characters. false for anything else (STS sessions, roots,
// other services).
func ParsePrincipal(s string) (Principal, bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "iam" || a.Region != "" || !slices.Contains(Partitions, a.Partition) || !isAccount(a.AccountID) {
		return Principal{}, false
	}
	kind, rest, ok := strings.Cut(a.Resource, "/")
	if !ok || (kind != "role" && kind != "user") {
		return Principal{}, false
	}
	segments := strings.Split(rest, "/")
	for _, seg := range segments {
		if seg == "" || !isIAMName(seg) {
			return Principal{}, false
		}
	}
	name := segments[len(segments)-1]
	if len(name) > 64 {
		return Principal{}, false
	}
	return Principal{ARN: s, Partition: a.Partition, Account: a.AccountID, Kind: kind,
		Path: strings.TrimSuffix(rest, name), Name: name}, true
}

// DefaultUsername is the username EKS derives for a STANDARD entry without one: the
// ARN for an IAM user, the assumed-role session ARN (path dropped) for a role. ""
// when s is not an ARN.
func DefaultUsername(s string) string {
	a, err := arn.Parse(s)
	if err != nil {
		return ""
	}
	if !strings.HasPrefix(a.Resource, "role/") {
		return s
	}
	name := a.Resource[strings.LastIndex(a.Resource, "/")+1:]
	return "arn:" + a.Partition + ":sts::" + a.AccountID + ":assumed-role/" + name + "/{{SessionName}}"
}

// AccountOf is the account of any ARN that names one (a role, an access entry).
func AccountOf(s string) (string, bool) {
	a, err := arn.Parse(s)
	if err != nil || a.AccountID == "" {
		return "", false
	}
	return a.AccountID, true
}

// policyPrefix starts the resource of every EKS access policy ARN.
const policyPrefix = "cluster-access-policy/"

// Policy is an EKS access policy ARN, such as
// arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy.
type Policy struct {
	ARN       string
	Partition string
	Name      string
}

// ParsePolicy splits an EKS access policy ARN; false for anything else.
func ParsePolicy(s string) (Policy, bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "eks" || a.Region != "" || a.AccountID != "aws" || !slices.Contains(Partitions, a.Partition) {
		return Policy{}, false
	}
	name, ok := strings.CutPrefix(a.Resource, policyPrefix)
	if !ok || name == "" || !isAlnum(name[0]) || !isIAMName(name) {
		return Policy{}, false
	}
	return Policy{ARN: s, Partition: a.Partition, Name: name}, true
}

// PolicyARN is the ARN of the EKS access policy name in a partition.
func PolicyARN(partition, name string) string {
	return arn.ARN{Partition: partition, Service: "eks", AccountID: "aws", Resource: policyPrefix + name}.String()
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isIAMName reports whether s holds only the characters IAM allows in names and
// path segments: letters, digits and _+=,.@-.
func isIAMName(s string) bool {
	for i := range len(s) {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("_+=,.@-", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
