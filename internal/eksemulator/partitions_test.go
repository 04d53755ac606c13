package eksemulator

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestPartitionOf(t *testing.T) {
	tests := map[string]string{
		"us-west-2":       "aws",
		"eu-central-2":    "aws",
		"mx-central-1":    "aws",
		"il-central-1":    "aws",
		"cn-north-1":      "aws-cn",
		"cn-northwest-1":  "aws-cn",
		"us-gov-west-1":   "aws-us-gov",
		"us-gov-east-1":   "aws-us-gov",
		"us-iso-east-1":   "aws-iso",
		"us-isob-east-1":  "aws-iso-b",
		"eu-isoe-west-1":  "aws-iso-e",
		"us-isof-south-1": "aws-iso-f",
		"eusc-de-east-1":  "aws-eusc",
		"mars-north-1":    "aws", // no partition claims it: the commercial one, as the SDK does
	}
	for region, want := range tests {
		if got := PartitionOf(region); got != want {
			t.Errorf("PartitionOf(%q) = %q, want %q", region, got, want)
		}
	}
}

func TestClusterRegionsOfEveryPartition(t *testing.T) {
	for _, region := range []string{"us-west-2", "cn-north-1", "us-gov-west-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1", "eusc-de-east-1"} {
		if _, err := New(Config{Clusters: []ClusterConfig{{Name: "c", Region: region}}}); err != nil {
			t.Errorf("region %s refused: %v", region, err)
		}
	}
	for _, region := range []string{"mars", "zz-east-1", "eusc-fr-east-1", "us-west", "US-WEST-2"} {
		if _, err := New(Config{Clusters: []ClusterConfig{{Name: "c", Region: region}}}); err == nil || !strings.Contains(err.Error(), "not a region name of any partition") {
			t.Errorf("region %s: error %v, want a refusal", region, err)
		}
	}
}

func TestPrincipalARNsOfEveryPartition(t *testing.T) {
	for _, partition := range []string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"} {
		arn := "arn:" + partition + ":iam::111122223333:role/r"
		if p, err := parsePrincipalARN(arn); err != nil || p.Partition != partition {
			t.Errorf("%s: %+v, %v", arn, p, err)
		}
	}
	for _, arn := range []string{"arn:aws-iso-z:iam::111122223333:role/r", "arn:aws-mars:iam::111122223333:role/r"} {
		if _, err := parsePrincipalARN(arn); err == nil {
			t.Errorf("%s parsed", arn)
		}
	}
}

// TestARNsFollowTheClusterPartition: a cluster outside the commercial partition
// gets ARNs, default usernames and policy ARNs of its own partition, and refuses
// policy ARNs and principals of another.
func TestARNsFollowTheClusterPartition(t *testing.T) {
	tests := []struct {
		region, partition, dnsSuffix string
	}{
		{"cn-north-1", "aws-cn", "amazonaws.com.cn"},
		{"us-gov-west-1", "aws-us-gov", "amazonaws.com"},
		{"us-isob-east-1", "aws-iso-b", "sc2s.sgov.gov"},
		{"eusc-de-east-1", "aws-eusc", "amazonaws.eu"},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			p := tt.partition
			creator := fmt.Sprintf("arn:%s:iam::%s:role/creator", p, testAccount)
			s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster, Region: tt.region, CreatorAdmin: creator}}})
			c := eksClientIn(s, tt.region, defaultCreds)

			cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
			mustOK(t, err, "DescribeCluster")
			if want := fmt.Sprintf("arn:%s:eks:%s:%s:cluster/demo", p, tt.region, testAccount); aws.ToString(cl.Cluster.Arn) != want {
				t.Errorf("cluster ARN %s, want %s", aws.ToString(cl.Cluster.Arn), want)
			}
			if !strings.HasSuffix(aws.ToString(cl.Cluster.Endpoint), "."+tt.region+".eks."+tt.dnsSuffix) {
				t.Errorf("endpoint %s", aws.ToString(cl.Cluster.Endpoint))
			}

			role := fmt.Sprintf("arn:%s:iam::%s:role/team/app", p, testAccount)
			e := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(role)})
			if want := fmt.Sprintf("arn:%s:eks:%s:%s:access-entry/demo/role/%s/app/", p, tt.region, testAccount, testAccount); !strings.HasPrefix(aws.ToString(e.AccessEntryArn), want) {
				t.Errorf("entry ARN %s, want prefix %s", aws.ToString(e.AccessEntryArn), want)
			}
			if want := fmt.Sprintf("arn:%s:sts::%s:assumed-role/app/{{SessionName}}", p, testAccount); aws.ToString(e.Username) != want {
				t.Errorf("username %s, want %s", aws.ToString(e.Username), want)
			}
			tags, err := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: e.AccessEntryArn})
			mustOK(t, err, "ListTagsForResource by the entry's ARN")
			if len(tags.Tags) != 0 {
				t.Errorf("tags = %v", tags.Tags)
			}
			awsARN := strings.Replace(aws.ToString(e.AccessEntryArn), "arn:"+p+":", "arn:aws:", 1)
			_, err = c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String(awsARN)})
			wantErr[*types.NotFoundException](t, err, "could not be found")

			pols, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(creator)})
			mustOK(t, err, "creator's policies")
			if len(pols.AssociatedAccessPolicies) != 1 || aws.ToString(pols.AssociatedAccessPolicies[0].PolicyArn) != AccessPolicyARNIn(p, "AmazonEKSClusterAdminPolicy") {
				t.Errorf("creator's policies = %+v", pols.AssociatedAccessPolicies)
			}

			list, err := c.ListAccessPolicies(ctx, &eks.ListAccessPoliciesInput{})
			mustOK(t, err, "ListAccessPolicies")
			if len(list.AccessPolicies) != len(accessPolicyNames) {
				t.Fatalf("%d policies listed", len(list.AccessPolicies))
			}
			for _, ap := range list.AccessPolicies {
				if want := AccessPolicyARNIn(p, aws.ToString(ap.Name)); aws.ToString(ap.Arn) != want {
					t.Fatalf("policy ARN %s, want %s", aws.ToString(ap.Arn), want)
				}
			}

			commercial := AccessPolicyARN("AmazonEKSViewPolicy")
			err = associateOn(c, role, commercial, &types.AccessScope{Type: types.AccessScopeTypeCluster})
			e2 := wantErr[*types.InvalidParameterException](t, err, commercial)
			if !strings.Contains(aws.ToString(e2.Message), "'list-access-policies'") || !strings.Contains(aws.ToString(e2.Message), "partition "+p) {
				t.Errorf("message %q", aws.ToString(e2.Message))
			}
			mustOK(t, associateOn(c, role, AccessPolicyARNIn(p, "AmazonEKSViewPolicy"), &types.AccessScope{Type: types.AccessScopeTypeCluster}), "associate in the partition")
			_, err = c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster), AssociatedPolicyArn: aws.String(commercial)})
			wantErr[*types.InvalidParameterException](t, err, "list-access-policies")

			_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
			wantErr[*types.InvalidParameterException](t, err, "is in partition aws and the cluster in "+p)

			who, err := sts.NewFromConfig(awsConfig(s, tt.region, defaultCreds, nil)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			mustOK(t, err, "GetCallerIdentity")
			if want := fmt.Sprintf("arn:%s:iam::%s:root", p, testAccount); aws.ToString(who.Arn) != want {
				t.Errorf("caller %s, want %s", aws.ToString(who.Arn), want)
			}
		})
	}
}

func TestUnknownAccessPolicyNamesTheARN(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	for _, arn := range []string{AccessPolicyARN("AmazonEKSGodModePolicy"), "arn:aws:eks::aws:cluster-access-policy/", "AmazonEKSViewPolicy"} {
		err := associateOn(c, myRole, arn, &types.AccessScope{Type: types.AccessScopeTypeCluster})
		e := wantErr[*types.InvalidParameterException](t, err, fmt.Sprintf("%q", arn))
		if !strings.Contains(aws.ToString(e.Message), "'list-access-policies'") {
			t.Errorf("%s: message %q does not point at list-access-policies", arn, aws.ToString(e.Message))
		}
	}
}
