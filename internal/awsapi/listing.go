package awsapi

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// Listing is one paced listing of a cluster's entries, for the sweeps.
type Listing struct {
	Target  Target
	Cluster string
	// Policy, when set, lists only the holders of that access policy (ARN).
	Policy string
	// Tier names the background work the listing is for (sweep, watched), for
	// the metric and the listing's place in the budget.
	Tier string
}

// Retries of a listing's pages: a page EKS throttled (or that failed in a way the
// SDK's own retries did not get past) is asked for again after a backoff, in its
// turn in the budget, which a throttle slows. At 10,000 entries a listing is 100
// pages, and one 429 among them must not drop the whole listing.
const pageAttempts = 8

// List pages through ListAccessEntries of a cluster (filtered by a policy when
// the listing names one) and returns the principals listed. With a budget, each
// page waits for its token in turn with changes (Foreground, a flow of its own
// per cluster), not behind verification: a round of verification must never
// delay finding a deletion.
func (c *Clients) List(ctx context.Context, l Listing) (map[string]bool, error) {
	in := &eks.ListAccessEntriesInput{ClusterName: aws.String(l.Cluster), MaxResults: aws.Int32(100)}
	if l.Policy != "" {
		in.AssociatedPolicyArn = aws.String(l.Policy)
	}
	out := map[string]bool{}
	pages := eks.NewListAccessEntriesPaginator(c.api(l.Target), in)
	for attempt := 1; pages.HasMorePages(); attempt++ {
		page, err := c.listPage(ctx, l, pages)
		if err != nil {
			// The paginator keeps its place: the same page is asked for again,
			// after a backoff (250ms, doubling, at most 5s).
			if k := Classify(err); (k == Throttled || k == Transient || k == BudgetSpent) && attempt < pageAttempts && ctx.Err() == nil {
				select {
				case <-ctx.Done():
					return nil, err
				case <-time.After(min(250*time.Millisecond<<(attempt-1), 5*time.Second)):
				}
				continue
			}
			return nil, err
		}
		attempt = 0
		for _, p := range page.AccessEntries {
			out[p] = true
		}
	}
	return out, nil
}

// listPage asks for the next page with the token of its turn.
func (c *Clients) listPage(ctx context.Context, l Listing, pages *eks.ListAccessEntriesPaginator) (*eks.ListAccessEntriesOutput, error) {
	slot := &Slot{Tier: l.Tier}
	if c.budget != nil {
		// The two listings of a cluster may wait at once: each has its own ID, as
		// the budget wakes one waiter per ID.
		slot.Grant = c.budget.Wait(ctx.Done(), budget.Request{Key: BudgetKey(l.Target), ID: l.Tier + "/" + l.Target.Region + "/" + l.Target.RoleARN + "/" + l.Cluster,
			Flow: "sweep/" + l.Cluster, Class: budget.Foreground, Tokens: 1})
		if slot.Grant == nil {
			return nil, ctx.Err()
		}
	}
	defer slot.Release()
	return pages.NextPage(WithSlot(ctx, slot))
}
