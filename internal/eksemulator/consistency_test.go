package eksemulator

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// testDelay leaves room for several calls inside the window on a loaded machine.
const testDelay = time.Second

func TestCreatedEntryInvisibleUntilPropagated(t *testing.T) {
	s := startServer(t, Config{ConsistencyDelay: testDelay})
	c := eksClient(s)
	name, p := aws.String(testCluster), aws.String(myRole)
	created := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: p})
	visibleAt := created.CreatedAt.Add(testDelay)

	// Reads right after the create do not see it...
	_, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: name, PrincipalArn: p})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
	_, err = c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: name, PrincipalArn: p})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
	_, err = c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: name, PrincipalArn: p,
		PolicyArn: aws.String(ClusterAdminPolicyARN), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
	_, err = c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: name, PrincipalArn: p})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
	list, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: name})
	mustOK(t, err, "list")
	if slices.Contains(list.AccessEntries, myRole) {
		t.Fatalf("entry listed before it propagated")
	}
	// ...but a second create already conflicts with it.
	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: name, PrincipalArn: p})
	wantErr[*types.ResourceInUseException](t, err, msgEntryInUse)
	// The wire carries milliseconds as a float, hence the tolerance.
	if e := s.Entries(testAccount, testRegion, testCluster); len(e) != 1 || e[0].Visible || e[0].VisibleAt.Sub(visibleAt).Abs() > 2*time.Millisecond {
		t.Fatalf("Entries = %+v, want one invisible entry visible at %v", e, visibleAt)
	}

	eventually(t, 5*time.Second, func() error {
		_, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: name, PrincipalArn: p})
		return err
	})
	if time.Now().Before(visibleAt) {
		t.Fatalf("entry visible before the consistency delay passed")
	}
	list, err = c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: name})
	mustOK(t, err, "list")
	if !slices.Equal(list.AccessEntries, []string{myRole}) {
		t.Fatalf("list after propagation = %v", list.AccessEntries)
	}
	_, err = c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: name, PrincipalArn: p,
		PolicyArn: aws.String(ClusterAdminPolicyARN), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}})
	mustOK(t, err, "associate after propagation")
}

func TestDeletedEntryBlocksCreateUntilPropagated(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	name, p := aws.String(testCluster), aws.String(myRole)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: p})
	s.SetFaults(Faults{ConsistencyDelay: testDelay})

	_, err := c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: name, PrincipalArn: p})
	mustOK(t, err, "delete")
	deleted := time.Now()
	_, err = c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: name, PrincipalArn: p})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: name, PrincipalArn: p})
	wantErr[*types.ResourceInUseException](t, err, msgEntryInUse)

	s.SetFaults(Faults{}) // the recreated entry is then visible at once
	eventually(t, 5*time.Second, func() error {
		_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: name, PrincipalArn: p})
		return err
	})
	if d := time.Since(deleted); d < testDelay-50*time.Millisecond {
		t.Fatalf("create succeeded %s after the delete, before the %s delay", d, testDelay)
	}
	_, err = c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: name, PrincipalArn: p})
	mustOK(t, err, "describe recreated entry")
}

func TestNewPrincipalInvalidUntilPropagated(t *testing.T) {
	s := startServer(t, Config{Principals: []string{}, ConsistencyDelay: testDelay})
	c := eksClient(s)
	p := roleARN(testAccount, "fresh-role")
	in := &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(p)}

	_, err := c.CreateAccessEntry(ctx, in)
	wantErr[*types.InvalidParameterException](t, err, msgInvalidPrincip)
	s.AddPrincipal(p)
	added := time.Now()
	_, err = c.CreateAccessEntry(ctx, in)
	wantErr[*types.InvalidParameterException](t, err, msgInvalidPrincip)
	eventually(t, 5*time.Second, func() error {
		_, err := c.CreateAccessEntry(ctx, in)
		return err
	})
	if d := time.Since(added); d < testDelay-50*time.Millisecond {
		t.Fatalf("principal usable %s after AddPrincipal, before the %s delay", d, testDelay)
	}

	oldID := s.PrincipalID(p)
	s.RecreatePrincipal(p)
	newID := s.PrincipalID(p)
	if oldID == "" || newID == oldID {
		t.Fatalf("recreated principal kept its ID %q", oldID)
	}
	e := s.Entries(testAccount, testRegion, testCluster)
	if len(e) != 1 || e[0].PrincipalID != oldID || !e[0].PrincipalStale {
		t.Fatalf("entry after recreation = %+v, want stale entry for %s", e, oldID)
	}
}

func TestRandomConsistencyDelaysAreSeeded(t *testing.T) {
	const maxDelay = time.Hour // never waited for: only VisibleAt is inspected
	delays := func(seed int64) []time.Duration {
		s := startServer(t, Config{ConsistencyDelay: maxDelay, ConsistencyRandom: true, Seed: seed})
		c := eksClient(s)
		for i := range 6 {
			createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(testAccount, fmt.Sprintf("r%d", i)))})
		}
		var out []time.Duration
		for _, e := range s.Entries(testAccount, testRegion, testCluster) {
			d := e.VisibleAt.Sub(e.CreatedAt)
			if d < 0 || d > maxDelay {
				t.Fatalf("delay %s outside [0, %s]", d, maxDelay)
			}
			out = append(out, d)
		}
		return out
	}
	a, b, other := delays(42), delays(42), delays(43)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different delays: %v vs %v", a, b)
	}
	if slices.Equal(a, other) {
		t.Errorf("different seeds, same delays: %v", a)
	}
	if slices.Min(a) == slices.Max(a) {
		t.Errorf("random delays are all equal: %v", a)
	}
}
