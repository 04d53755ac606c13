package awsapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// cloudTrailEvent is an EventBridge event of one EKS call, as CloudTrail
// records it; mutate changes its detail before it is written out.
func cloudTrailEvent(name string, params map[string]any, mutate ...func(detail map[string]any)) []byte {
	detail := map[string]any{
		"eventVersion": "1.09", "eventID": "e-1", "eventName": name, "eventSource": "eks.amazonaws.com",
		"eventTime": "2026-12-05T10:00:00Z", "awsRegion": "us-west-2", "recipientAccountId": "111122223333",
		"userIdentity": map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/ops/alice",
			"accountId": "111122223333", "sessionContext": map[string]any{"sessionIssuer": map[string]any{"arn": "arn:aws:iam::111122223333:role/team/ops"}}},
		"requestParameters": params,
	}
	for _, m := range mutate {
		m(detail)
	}
	b, _ := json.Marshal(map[string]any{"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.eks",
		"account": "111122223333", "region": "us-west-2", "detail": detail})
	return b
}

const entryARN = "arn:aws:eks:us-west-2:111122223333:access-entry/prod/role/111122223333/dev/4ac9c5d2-1b5e-4e5a-9f0a-1d2e3f4a5b6c"

func TestParseEvent(t *testing.T) {
	sns, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": string(cloudTrailEvent("DeleteAccessEntry",
		map[string]any{"name": "prod", "principalArn": "arn:aws:iam::111122223333:role/dev"}))})
	cases := []struct {
		name string
		body []byte
		want Event
		// err: "" parses, "skip" is ErrNotAccessEntryWrite, else a part of the error.
		err string
	}{
		{name: "associate", body: cloudTrailEvent("AssociateAccessPolicy", map[string]any{"name": "prod", "principalArn": "arn:aws:iam::111122223333:role/dev",
			"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSSecretAdminPolicy", "accessScope": map[string]any{"type": "cluster"}}),
			want: Event{ID: "e-1", Name: "AssociateAccessPolicy", Account: "111122223333", Region: "us-west-2", Cluster: "prod",
				Principal: "arn:aws:iam::111122223333:role/dev", Actor: "111122223333:role/ops"}},
		{name: "the cluster by its model name", body: cloudTrailEvent("UpdateAccessEntry", map[string]any{"clusterName": "prod", "principalArn": "arn:aws:iam::111122223333:role/dev", "username": "x"}),
			want: Event{ID: "e-1", Name: "UpdateAccessEntry", Account: "111122223333", Region: "us-west-2", Cluster: "prod",
				Principal: "arn:aws:iam::111122223333:role/dev", Actor: "111122223333:role/ops"}},
		{name: "through SNS", body: sns, want: Event{ID: "e-1", Name: "DeleteAccessEntry", Account: "111122223333", Region: "us-west-2", Cluster: "prod",
			Principal: "arn:aws:iam::111122223333:role/dev", Actor: "111122223333:role/ops"}},
		{name: "a tag write names the entry's ARN", body: cloudTrailEvent("TagResource", map[string]any{"resourceArn": entryARN, "tags": map[string]string{"a": "b"}}),
			want: Event{ID: "e-1", Name: "TagResource", Account: "111122223333", Region: "us-west-2", Cluster: "prod", Resource: entryARN, Actor: "111122223333:role/ops"}},
		{name: "a refused call", body: cloudTrailEvent("DeleteAccessEntry", map[string]any{"name": "prod", "principalArn": "arn:aws:iam::111122223333:role/dev"},
			func(d map[string]any) { d["errorCode"] = "ResourceNotFoundException" }),
			want: Event{ID: "e-1", Name: "DeleteAccessEntry", Account: "111122223333", Region: "us-west-2", Cluster: "prod",
				Principal: "arn:aws:iam::111122223333:role/dev", Actor: "111122223333:role/ops", Failed: true}},
		{name: "a user", body: cloudTrailEvent("DeleteAccessEntry", map[string]any{"name": "prod", "principalArn": "arn:aws:iam::111122223333:role/dev"},
			func(d map[string]any) {
				d["userIdentity"] = map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/people/bob"}
			}),
			want: Event{ID: "e-1", Name: "DeleteAccessEntry", Account: "111122223333", Region: "us-west-2", Cluster: "prod",
				Principal: "arn:aws:iam::111122223333:role/dev", Actor: "111122223333:user/bob"}},
		{name: "a cluster's tags", body: cloudTrailEvent("TagResource", map[string]any{"resourceArn": "arn:aws:eks:us-west-2:111122223333:cluster/prod"}), err: "skip"},
		{name: "another call", body: cloudTrailEvent("DescribeCluster", map[string]any{"name": "prod"}), err: "skip"},
		{name: "not JSON", body: []byte("hello"), err: "not JSON"},
		{name: "no detail", body: []byte(`{"source":"aws.eks"}`), err: "no detail"},
		{name: "detail of the wrong shape", body: []byte(`{"source":"aws.eks","detail":{"eventName":5}}`), err: "not a CloudTrail record"},
		{name: "no principal", body: cloudTrailEvent("DeleteAccessEntry", map[string]any{"name": "prod"}), err: "names no"},
		{name: "no cluster", body: cloudTrailEvent("DeleteAccessEntry", map[string]any{"principalArn": "arn:aws:iam::111122223333:role/dev"}), err: "names no"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent(tc.body)
			switch {
			case tc.err == "skip":
				if !errors.Is(err, ErrNotAccessEntryWrite) {
					t.Fatalf("got %+v, %v; want ErrNotAccessEntryWrite", got, err)
				}
				return
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, ErrNotAccessEntryWrite) {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			got.detail, got.Time = "", got.Time.UTC()
			tc.want.Time = got.Time
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestDetailTellsWritesApart: the operator's own write and another write of the
// same kind to the same entry differ in what they asked for, whichever order
// CloudTrail lists the groups, namespaces or tags in.
func TestDetailTellsWritesApart(t *testing.T) {
	groups := func(g ...string) *[]string { return &g }
	name := func(s string) *string { return &s }
	same := [][2]string{
		{detailOf("UpdateAccessEntry", "", groups("a", "b"), name("u"), nil, nil, ""), detailOf("UpdateAccessEntry", "", groups("b", "a"), name("u"), nil, nil, "")},
		{detailOf("TagResource", "", nil, nil, map[string]string{"a": "1", "b": "2"}, nil, ""), detailOf("TagResource", "", nil, nil, map[string]string{"b": "2", "a": "1"}, nil, "")},
		{detailOf("UntagResource", "", nil, nil, nil, []string{"x", "y"}, ""), detailOf("UntagResource", "", nil, nil, nil, []string{"y", "x"}, "")},
	}
	for _, s := range same {
		if s[0] != s[1] {
			t.Errorf("%q and %q should be one write", s[0], s[1])
		}
	}
	differ := [][2]string{
		{detailOf("UpdateAccessEntry", "", groups("a"), nil, nil, nil, ""), detailOf("UpdateAccessEntry", "", groups("admins"), nil, nil, nil, "")},
		{detailOf("UpdateAccessEntry", "", groups(), nil, nil, nil, ""), detailOf("UpdateAccessEntry", "", nil, nil, nil, nil, "")},
		{detailOf("AssociateAccessPolicy", "p", nil, nil, nil, nil, "namespace:a"), detailOf("AssociateAccessPolicy", "p", nil, nil, nil, nil, "cluster:")},
		{detailOf("AssociateAccessPolicy", "p", nil, nil, nil, nil, "cluster:"), detailOf("AssociateAccessPolicy", "q", nil, nil, nil, nil, "cluster:")},
		{detailOf("TagResource", "", nil, nil, map[string]string{"a": "1"}, nil, ""), detailOf("TagResource", "", nil, nil, map[string]string{"a": "2"}, nil, "")},
	}
	for _, d := range differ {
		if d[0] == d[1] {
			t.Errorf("%q: two writes taken as one", d[0])
		}
	}
}

func TestActorOfARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::111122223333:assumed-role/eks-access-operator/1700000000":    "111122223333:role/eks-access-operator",
		"arn:aws:iam::111122223333:role/path/to/eks-access-operator":               "111122223333:role/eks-access-operator",
		"arn:aws:iam::111122223333:user/people/bob":                                "111122223333:user/bob",
		"arn:aws:iam::111122223333:root":                                           "111122223333:root",
		"arn:aws-cn:sts::111122223333:assumed-role/eks-access-operator/botocore-1": "111122223333:role/eks-access-operator",
	} {
		if got := actorOfARN(in); got != want {
			t.Errorf("actorOfARN(%s) = %s, want %s", in, got, want)
		}
	}
}
