package eksemulator

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// TestJournalKeepsEachWriteOfAPrincipal: the writes answered OK that touched a
// principal's entries, in order, tag writes included (by the entry's ARN); reads,
// refused writes and other principals' writes are not among them.
func TestJournalKeepsEachWriteOfAPrincipal(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	ctx := context.Background()
	principal, other := roleARN(testAccount, "journaled"), roleARN(testAccount, "journaled-other")
	e := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(principal)})
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(other)})
	if _, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(principal), KubernetesGroups: []string{"devs"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: e.AccessEntryArn, Tags: map[string]string{"team": "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(principal)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(principal)}); err == nil {
		t.Fatal("a second create of the same principal was accepted")
	}
	got := s.Writes(principal)
	var ops []string
	for _, w := range got {
		ops = append(ops, w.Op)
	}
	if want := []string{"CreateAccessEntry", "UpdateAccessEntry", "TagResource"}; !slices.Equal(ops, want) {
		t.Fatalf("journal of %s: %v, want %v", principal, ops, want)
	}
	if got[1].Account != testAccount || got[1].Cluster != testCluster || !strings.Contains(got[1].Body, "devs") {
		t.Errorf("the update as journaled: %+v", got[1])
	}
}
