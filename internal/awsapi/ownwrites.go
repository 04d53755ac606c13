package awsapi

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go/middleware"
)

// OwnWriteWindow is how long the operator remembers a write of its own, to know
// its event: EventBridge delivers CloudTrail events within minutes, best effort.
// A later copy costs one read, nothing worse.
const OwnWriteWindow = 30 * time.Minute

// ownWrites remembers each write the operator asked EKS for, by what it asked,
// in which account and region, and as whom. An event is the operator's own only
// when both its caller is the operator's identity in that account and it asked
// for what the operator asked for: a person sharing the operator's role still
// gets a read for any other write.
type ownWrites struct {
	mu     sync.Mutex
	writes map[writeKey]time.Time
	actors map[string]bool
	pruned time.Time
	// unconfirmed is, by account and region, the first write made since an event
	// of that account and region last arrived.
	unconfirmed map[[2]string]time.Time
}

// writeKey is one write, as both the SDK's input and CloudTrail's record say it.
type writeKey struct {
	account, region, op, cluster, principal, resource, detail string
}

// middleware records each write before it is sent: its event may reach the
// queue before the answer reaches the operator. One the operator could not place
// in an account (STS unreachable) is not recorded, and its event costs a read.
func (w *ownWrites) middleware(c *Clients, t Target) middleware.InitializeMiddleware {
	return middleware.InitializeMiddlewareFunc("eksAccessOwnWrite", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if k, ok := writeKeyOf(in.Parameters); ok {
			if account, _, err := c.Account(ctx, t); err == nil {
				k.account, k.region = account, t.Region
				w.record(k, c.actorOf(t))
			}
		}
		return next.HandleInitialize(ctx, in)
	})
}

// actorOf is the operator's identity in a target's account: the target's role,
// or what STS said of its own credentials.
func (c *Clients) actorOf(t Target) string {
	if t.RoleARN != "" {
		return actorOfARN(t.RoleARN)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return actorOfARN(c.iam.accounts[t.Region].arn)
}

func (w *ownWrites) record(k writeKey, actor string) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.writes == nil {
		w.writes, w.actors, w.unconfirmed = map[writeKey]time.Time{}, map[string]bool{}, map[[2]string]time.Time{}
	}
	w.writes[k], w.actors[actor] = now, true
	if ar := [2]string{k.account, k.region}; w.unconfirmed[ar].IsZero() {
		w.unconfirmed[ar] = now
	}
	if now.Sub(w.pruned) > OwnWriteWindow/10 {
		for k, at := range w.writes {
			if now.Sub(at) > OwnWriteWindow {
				delete(w.writes, k)
			}
		}
		w.pruned = now
	}
}

// OwnWrite says whether an event records a write the operator made (within
// OwnWriteWindow): it then needs no read. Every copy of it says so.
func (c *Clients) OwnWrite(ev Event) bool {
	k := writeKey{account: ev.Account, region: ev.Region, op: ev.Name, cluster: ev.Cluster,
		principal: lowerPrincipal(ev.Principal), resource: ev.Resource, detail: ev.detail}
	w := &c.own
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.writes[k]
	return ok && w.actors[ev.Actor] && time.Since(at) <= OwnWriteWindow
}

// writeKeyOf is the key of an access-entry write's input; false for any other call.
func writeKeyOf(params any) (writeKey, bool) {
	var k writeKey
	switch in := params.(type) {
	case *eks.CreateAccessEntryInput:
		k = writeKey{op: "CreateAccessEntry", cluster: aws.ToString(in.ClusterName), principal: aws.ToString(in.PrincipalArn)}
	case *eks.UpdateAccessEntryInput:
		var groups *[]string
		if in.KubernetesGroups != nil {
			groups = &in.KubernetesGroups
		}
		k = writeKey{op: "UpdateAccessEntry", cluster: aws.ToString(in.ClusterName), principal: aws.ToString(in.PrincipalArn)}
		k.detail = detailOf(k.op, "", groups, in.Username, nil, nil, "")
	case *eks.DeleteAccessEntryInput:
		k = writeKey{op: "DeleteAccessEntry", cluster: aws.ToString(in.ClusterName), principal: aws.ToString(in.PrincipalArn)}
	case *eks.AssociateAccessPolicyInput:
		k = writeKey{op: "AssociateAccessPolicy", cluster: aws.ToString(in.ClusterName), principal: aws.ToString(in.PrincipalArn)}
		scope := ""
		if in.AccessScope != nil {
			scope = scopeOf(requestParameters{AccessScope: &struct {
				Type       string   `json:"type"`
				Namespaces []string `json:"namespaces"`
			}{Type: string(in.AccessScope.Type), Namespaces: in.AccessScope.Namespaces}})
		}
		k.detail = detailOf(k.op, aws.ToString(in.PolicyArn), nil, nil, nil, nil, scope)
	case *eks.DisassociateAccessPolicyInput:
		k = writeKey{op: "DisassociateAccessPolicy", cluster: aws.ToString(in.ClusterName), principal: aws.ToString(in.PrincipalArn)}
		k.detail = detailOf(k.op, aws.ToString(in.PolicyArn), nil, nil, nil, nil, "")
	case *eks.TagResourceInput:
		k = writeKey{op: "TagResource", resource: aws.ToString(in.ResourceArn)}
		k.detail = detailOf(k.op, "", nil, nil, in.Tags, nil, "")
	case *eks.UntagResourceInput:
		k = writeKey{op: "UntagResource", resource: aws.ToString(in.ResourceArn)}
		k.detail = detailOf(k.op, "", nil, nil, nil, in.TagKeys, "")
	default:
		return writeKey{}, false
	}
	if k.resource != "" {
		if ev, err := clusterOfEntryARN(k.resource); err == nil {
			k.cluster = ev
		}
	}
	k.principal = lowerPrincipal(k.principal)
	return k, true
}

// EventArrived notes that an event of an account and region arrived: the
// operator's writes there until now are taken as on their way.
func (c *Clients) EventArrived(account, region string) {
	c.own.mu.Lock()
	defer c.own.mu.Unlock()
	delete(c.own.unconfirmed, [2]string{account, region})
}

// Unconfirmed is when the operator first wrote to an account and region since
// an event of theirs last arrived; zero when it has not. A write whose event is
// long overdue, with no other event since, says events of that account and
// region do not reach the queue.
func (c *Clients) Unconfirmed(account, region string) time.Time {
	c.own.mu.Lock()
	defer c.own.mu.Unlock()
	return c.own.unconfirmed[[2]string{account, region}]
}
