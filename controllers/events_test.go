package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const eventsQueue = "eks-access-events"

// policyARN is the ARN of an EKS access policy by name.
func policyARN(name string) string { return "arn:aws:eks::aws:cluster-access-policy/" + name }

// eventsStack is an emulator that publishes its writes' events to a queue, and
// an operator that reads it with no sweep and verification an hour away: what
// it puts back within the test, an event made it put back.
type eventsStack struct {
	emu     *eksemulator.Server
	eks     *eks.Client
	sqs     *sqs.Client
	op      *testOperator
	shard   string
	cluster string
}

func startEventsStack(t *testing.T, shard string, opts EventOptions) *eventsStack {
	t.Helper()
	testenv.RequireControlPlane(t)
	s := &eventsStack{shard: shard, cluster: shard}
	s.emu, s.eks = ownEmulator(t, eksemulator.Config{
		Clusters: []eksemulator.ClusterConfig{{Name: s.cluster, Account: account, Region: region, AuthenticationMode: "API"}},
		Events:   eksemulator.EventsConfig{Queue: eventsQueue}, Seed: 1})
	s.sqs = sqs.NewFromConfig(awsConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.emu.URL()) })
	opts.QueueURL = s.emu.QueueURL(eventsQueue)
	tm := testManager{selector: shardLabel + "=" + shard, resync: time.Hour, clusterConfigs: true, name: "events-" + shard,
		tune: []func(*AccessEntryReconciler){onEmulator(s.emu, budget.Options{QPS: 20, Burst: 20, BackgroundQPS: 10})}, events: opts}
	s.op = tm.startFor(t)
	return s
}

// entry is an AccessEntry of the stack's shard and cluster.
func (s *eventsStack) entry(name string, mutate ...func(*v1.AccessEntry)) *v1.AccessEntry {
	return entry(name, roleARN(name), append([]func(*v1.AccessEntry){inShard(s.shard, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = s.cluster
	})}, mutate...)...)
}

// holding is the emulator's entry of a principal.
func (s *eventsStack) holding(principal string) (eksemulator.Entry, bool) {
	return holdingOf(s.emu, account, s.cluster, principal)
}

// waitHeld waits until the emulator's entry of principal satisfies ok.
func (s *eventsStack) waitHeld(t *testing.T, principal string, within time.Duration, what string, ok func(eksemulator.Entry, bool) bool) {
	t.Helper()
	eventually(t, within, principal+": "+what, func() (bool, string) {
		e, held := s.holding(principal)
		return ok(e, held), fmt.Sprintf("held %v: %+v", held, e)
	})
}

// heldStill checks that the emulator's entry keeps satisfying ok for d: what
// an operator with no events does with an out-of-band change in that time.
func (s *eventsStack) heldStill(t *testing.T, principal string, d time.Duration, what string, ok func(eksemulator.Entry, bool) bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if e, held := s.holding(principal); !ok(e, held) {
			t.Fatalf("%s: %s no longer holds: %+v", principal, what, e)
		}
	}
}

// send puts a message in the events queue, as a forger who may send to it.
func (s *eventsStack) send(t *testing.T, body string) {
	t.Helper()
	if _, err := s.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(s.emu.QueueURL(eventsQueue)), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
}

// forgedEvent is a well-formed EKS CloudTrail event of a write to principal's
// entry that nobody made, by a caller who is not the operator; failed: one
// EKS refused.
func forgedEvent(op, cluster, principal string, failed bool) string {
	errorCode := ""
	if failed {
		errorCode = "AccessDeniedException"
	}
	return fmt.Sprintf(`{"version":"0","id":"%[1]s","detail-type":"AWS API Call via CloudTrail","source":"aws.eks","account":%[2]q,"region":%[3]q,
"detail":{"eventVersion":"1.09","eventID":"%[1]s","eventName":%[4]q,"eventSource":"eks.amazonaws.com","awsRegion":%[3]q,"recipientAccountId":%[2]q,
"eventTime":%[8]q,"errorCode":%[7]q,"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::%[2]s:user/forger","accountId":%[2]q},
"requestParameters":{"name":%[5]q,"principalArn":%[6]q}}}`, fmt.Sprintf("forged-%d", time.Now().UnixNano()), account, region, op, cluster, principal, errorCode,
		time.Now().UTC().Format(time.RFC3339))
}

// queued is how many messages the queue holds, visible or in flight.
func (s *eventsStack) queued(t *testing.T) int {
	t.Helper()
	out, err := s.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.emu.QueueURL(eventsQueue)),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		var k int
		fmt.Sscan(v, &k)
		n += k
	}
	return n
}

func hasPolicy(e eksemulator.Entry, policy, scope string, namespaces ...string) bool {
	return slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool {
		return p.PolicyARN == policy && p.ScopeType == scope && slices.Equal(p.Namespaces, namespaces)
	})
}

// TestEventsPutBackEachKindOfChange: every kind of out-of-band change is put
// back after its event, with no sweep and no verification in between (none is
// due for an hour), and without the cluster listed: the event alone names what
// to read. The changes are made with the operator's own credentials, so the
// operator must tell them from its own writes by what they asked for.
func TestEventsPutBackEachKindOfChange(t *testing.T) {
	s := startEventsStack(t, "events-kinds", EventOptions{MaxDelay: time.Minute, ProbeAfter: time.Hour, DownAfter: 45 * time.Second})
	ctx := context.Background()
	view, secretAdmin := policyARN("AmazonEKSViewPolicy"), policyARN("AmazonEKSSecretAdminPolicy")
	ae := s.entry("ev-dev", func(ae *v1.AccessEntry) {
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"viewers"}
		ae.Spec.Username = "dev"
		ae.Spec.Tags = map[string]v1.TagValue{"team": "apps"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{{PolicyARN: view, AccessScope: v1.AccessScope{Type: "namespace", Namespaces: []v1.ScopeNamespace{"apps"}}}}
	})
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: s.cluster, Labels: map[string]string{shardLabel: s.shard}},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: s.cluster, UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}}
	createConfig(t, cac)
	waitConfig(t, cac.Name, 30*time.Second, "to be ready", configReady)
	principal := ae.Spec.PrincipalARN
	lists := func() int { return s.emu.Calls()["ListAccessEntries"]["OK"] }
	listed := lists()
	matched := testutil.ToFloat64(eventsHandled.WithLabelValues("matched"))
	const within = 20 * time.Second

	t.Run("a policy that reads every Secret, associated", func(t *testing.T) {
		if _, err := s.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(secretAdmin), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
		s.waitHeld(t, principal, within, "SecretAdmin removed", func(e eksemulator.Entry, _ bool) bool {
			return !slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool { return p.PolicyARN == secretAdmin })
		})
	})
	t.Run("groups and username changed", func(t *testing.T) {
		if _, err := s.eks.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(principal),
			KubernetesGroups: []string{"cluster-admins"}, Username: aws.String("admin")}); err != nil {
			t.Fatal(err)
		}
		s.waitHeld(t, principal, within, "groups and username back", func(e eksemulator.Entry, _ bool) bool {
			return slices.Equal(e.KubernetesGroups, []string{"viewers"}) && e.Username == "dev"
		})
	})
	t.Run("a namespace scope widened to the cluster", func(t *testing.T) {
		if _, err := s.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(view), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
		s.waitHeld(t, principal, within, "View back to namespace apps", func(e eksemulator.Entry, _ bool) bool {
			return hasPolicy(e, view, "namespace", "apps")
		})
	})
	t.Run("tags changed", func(t *testing.T) {
		e, _ := s.holding(principal)
		if _, err := s.eks.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(e.AccessEntryARN), Tags: map[string]string{"team": "intruders"}}); err != nil {
			t.Fatal(err)
		}
		s.waitHeld(t, principal, within, "tag team back", func(e eksemulator.Entry, _ bool) bool { return e.Tags["team"] == "apps" })
	})
	t.Run("the entry deleted", func(t *testing.T) {
		if _, err := s.eks.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(principal)}); err != nil {
			t.Fatal(err)
		}
		s.waitHeld(t, principal, within, "created again", func(e eksemulator.Entry, held bool) bool {
			return held && hasPolicy(e, view, "namespace", "apps")
		})
	})
	// Admin, not ClusterAdmin: an entry holding ClusterAdmin made this soon
	// after the cluster is taken for the one EKS made for its creator.
	t.Run("an unmanaged entry holding Admin on the whole cluster, created", func(t *testing.T) {
		intruder := roleARN("ev-intruder")
		if _, err := s.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(intruder)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(intruder),
			PolicyArn: aws.String(policyARN("AmazonEKSAdminPolicy")), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil && !awsapi.IsNotFound(err) {
			t.Fatal(err) // not found: the creation's event had it pruned already
		}
		s.waitHeld(t, intruder, within, "pruned", func(_ eksemulator.Entry, held bool) bool { return !held })
		waitConfig(t, cac.Name, within, "to record the deletion", func(c *v1.ClusterAccessConfig) bool {
			return slices.ContainsFunc(c.Status.UnmanagedEntries, func(u v1.UnmanagedEntry) bool { return u.PrincipalARN == intruder })
		})
	})
	// A tenant's object the rules refuse names the principal first: it holds no
	// entry, so it shields none, and the event still starts the decision.
	t.Run("an unmanaged admin entry whose principal a refused object names", func(t *testing.T) {
		tenant := tenantClient(t) // and its namespace
		shield := s.entry("ev-shield", func(ae *v1.AccessEntry) { ae.Namespace = tenantNS })
		if err := tenant.Create(ctx, shield); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(shield)) })
		waitReason(t, shield, v1.ReasonNotPermitted, 30*time.Second)
		principal := shield.Spec.PrincipalARN
		if _, err := s.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(principal)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(policyARN("AmazonEKSAdminPolicy")), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil && !awsapi.IsNotFound(err) {
			t.Fatal(err)
		}
		s.waitHeld(t, principal, within, "pruned", func(_ eksemulator.Entry, held bool) bool { return !held })
	})
	// The managed principal in another letter case: the same IAM role, but an
	// entry of its own in EKS, which the managed object does not hold.
	t.Run("an unmanaged admin entry spelling a managed principal in another letter case", func(t *testing.T) {
		variant := strings.Replace(principal, "ev-dev", "EV-Dev", 1)
		if _, err := s.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(variant)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(variant),
			PolicyArn: aws.String(policyARN("AmazonEKSAdminPolicy")), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil && !awsapi.IsNotFound(err) {
			t.Fatal(err)
		}
		s.waitHeld(t, variant, within, "pruned", func(_ eksemulator.Entry, held bool) bool { return !held })
		s.waitHeld(t, principal, within, "the managed entry as declared", func(e eksemulator.Entry, held bool) bool {
			return held && hasPolicy(e, view, "namespace", "apps")
		})
	})
	if n := lists() - listed; n != 0 {
		t.Errorf("the cluster was listed %d times: the changes were found by listing, not by their events", n)
	}
	if got := testutil.ToFloat64(eventsHandled.WithLabelValues("matched")) - matched; got < 5 {
		t.Errorf("%g events matched an AccessEntry, want at least one a change (5)", got)
	}
}

// TestEventsThatGoAmiss: lost, duplicated, reordered and malformed events; the
// operator's own writes; the queue unreachable, and back.
func TestEventsThatGoAmiss(t *testing.T) {
	s := startEventsStack(t, "events-amiss", EventOptions{MaxDelay: 3 * time.Second, ProbeAfter: 2 * time.Second, DownAfter: 3 * time.Second})
	ctx := context.Background()
	view, secretAdmin := policyARN("AmazonEKSViewPolicy"), policyARN("AmazonEKSSecretAdminPolicy")
	withView := func(ae *v1.AccessEntry) {
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"viewers"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{{PolicyARN: view, AccessScope: v1.AccessScope{Type: "namespace", Namespaces: []v1.ScopeNamespace{"apps"}}}}
	}
	grant := func(t *testing.T, principal, policy string) {
		t.Helper()
		if _, err := s.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(policy), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
	}
	regroup := func(t *testing.T, principal string, groups ...string) {
		t.Helper()
		if _, err := s.eks.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(principal),
			KubernetesGroups: groups}); err != nil {
			t.Fatal(err)
		}
	}
	noSecretAdmin := func(e eksemulator.Entry, _ bool) bool {
		return !slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool { return p.PolicyARN == secretAdmin })
	}
	asDeclared := func(e eksemulator.Entry, held bool) bool {
		return held && noSecretAdmin(e, held) && slices.Equal(e.KubernetesGroups, []string{"viewers"}) && hasPolicy(e, view, "namespace", "apps")
	}
	flowing := func() bool { return s.op.events.Flowing(account, region) }

	own := s.entry("ev-own", withView)
	create(t, own)
	waitReady(t, own, 30*time.Second)
	eventually(t, 20*time.Second, "events to flow (the probe's, or the writes')", func() (bool, string) { return flowing(), "not flowing" })

	t.Run("the operator's own writes cost no reads", func(t *testing.T) {
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue, Delay: 2 * time.Second})
		defer s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue})
		ownBefore := testutil.ToFloat64(eventsHandled.WithLabelValues("own"))
		var aes []*v1.AccessEntry
		for i := range 4 {
			ae := s.entry(fmt.Sprintf("ev-own-%d", i), withView)
			create(t, ae)
			aes = append(aes, ae)
		}
		for _, ae := range aes {
			waitReady(t, ae, 30*time.Second)
		}
		reads := func() int {
			c := s.emu.Calls()
			return c["DescribeAccessEntry"]["OK"] + c["ListAssociatedAccessPolicies"]["OK"] + c["ListAccessEntries"]["OK"]
		}
		before := reads()
		// Each entry took a create, an association and tags: the events of
		// those writes arrive 2 s after them, all after the objects were Ready.
		eventually(t, 20*time.Second, "the writes' events read", func() (bool, string) {
			got := testutil.ToFloat64(eventsHandled.WithLabelValues("own")) - ownBefore
			return got >= 8 && s.queued(t) == 0, fmt.Sprintf("%g own events, %d queued", got, s.queued(t))
		})
		if n := reads() - before; n != 0 {
			t.Errorf("the events of the operator's own writes cost %d reads", n)
		}
	})

	t.Run("a lost event: the change waits for the next event of the entry", func(t *testing.T) {
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue, Loss: 1})
		grant(t, own.Spec.PrincipalARN, secretAdmin)
		s.heldStill(t, own.Spec.PrincipalARN, 5*time.Second, "SecretAdmin held (its event was lost)", func(e eksemulator.Entry, held bool) bool { return !noSecretAdmin(e, held) })
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue})
		regroup(t, own.Spec.PrincipalARN, "cluster-admins")
		s.waitHeld(t, own.Spec.PrincipalARN, 20*time.Second, "both changes put back by the read the second event asked for", asDeclared)
	})

	t.Run("duplicated events: one repair", func(t *testing.T) {
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue, Duplicates: 1})
		defer s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue})
		disassociations := s.emu.Calls()["DisassociateAccessPolicy"]["OK"]
		grant(t, own.Spec.PrincipalARN, secretAdmin)
		s.waitHeld(t, own.Spec.PrincipalARN, 20*time.Second, "SecretAdmin removed", noSecretAdmin)
		eventually(t, 20*time.Second, "both copies read", func() (bool, string) { return s.queued(t) == 0, fmt.Sprintf("%d queued", s.queued(t)) })
		time.Sleep(2 * time.Second)
		if n := s.emu.Calls()["DisassociateAccessPolicy"]["OK"] - disassociations; n != 1 {
			t.Errorf("%d disassociations for one change delivered twice, want 1", n)
		}
	})

	t.Run("reordered events: the entry ends as declared", func(t *testing.T) {
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue, MaxExtraDelay: 3 * time.Second})
		defer s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue})
		p := own.Spec.PrincipalARN
		grant(t, p, secretAdmin)
		regroup(t, p, "cluster-admins")
		if _, err := s.eks.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(p), PolicyArn: aws.String(view)}); err != nil {
			t.Fatal(err)
		}
		regroup(t, p, "cluster-admins", "auditors")
		s.waitHeld(t, p, 30*time.Second, "as declared", asDeclared)
	})

	t.Run("malformed messages are dropped, and the reader goes on", func(t *testing.T) {
		unparseable := testutil.ToFloat64(eventsHandled.WithLabelValues("unparseable"))
		for _, body := range []string{"not json", `{"source":"aws.eks","detail":"x"}`, `{"detail":{"eventName":"DeleteAccessEntry","eventSource":"eks.amazonaws.com"}}`} {
			if _, err := s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.emu.QueueURL(eventsQueue)), MessageBody: aws.String(body)}); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 20*time.Second, "the messages dropped", func() (bool, string) {
			got := testutil.ToFloat64(eventsHandled.WithLabelValues("unparseable")) - unparseable
			return got == 3 && s.queued(t) == 0, fmt.Sprintf("%g unparseable, %d queued", got, s.queued(t))
		})
		grant(t, own.Spec.PrincipalARN, secretAdmin)
		s.waitHeld(t, own.Spec.PrincipalARN, 20*time.Second, "SecretAdmin removed after the malformed messages", noSecretAdmin)
	})

	t.Run("the queue unreachable, and back", func(t *testing.T) {
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue, Unreachable: true})

		// A long poll made before stays open: the queue is down once receives fail.
		eventually(t, 40*time.Second, "the queue taken as down", func() (bool, string) {
			up := testutil.ToFloat64(eventsQueueUp)
			return up == 0 && !flowing(), fmt.Sprintf("eks_access_operator_events_queue_up %g", up)
		})
		grant(t, own.Spec.PrincipalARN, secretAdmin)
		s.heldStill(t, own.Spec.PrincipalARN, 4*time.Second, "SecretAdmin held while the queue is unreachable", func(e eksemulator.Entry, held bool) bool { return !noSecretAdmin(e, held) })
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue})
		s.waitHeld(t, own.Spec.PrincipalARN, 40*time.Second, "SecretAdmin removed once the queue answers (its event waited there)", noSecretAdmin)
		eventually(t, 20*time.Second, "events flowing again", func() (bool, string) { return flowing(), "not flowing" })
	})

	t.Run("events silent while the queue answers", func(t *testing.T) {
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue, Loss: 1})
		ae := s.entry("ev-silent", withView)
		create(t, ae)
		waitReady(t, ae, 30*time.Second)
		eventually(t, 20*time.Second, "events taken as not flowing: the writes' events are overdue", func() (bool, string) { return !flowing(), "flowing" })
		// Forged events, of a refused call and of another caller's write, show
		// nothing: only the operator's own writes' events do.
		handled := testutil.ToFloat64(eventsReceived)
		for i, failed := range []bool{true, false, true, false} {
			s.send(t, forgedEvent("UpdateAccessEntry", s.cluster, roleARN(fmt.Sprintf("ev-forged-%d", i)), failed))
		}
		eventually(t, 20*time.Second, "the forged events read", func() (bool, string) {
			got := testutil.ToFloat64(eventsReceived) - handled
			return got >= 4, fmt.Sprintf("%g read", got)
		})
		if flowing() {
			t.Fatal("forged events made events count as flowing while the operator's own are lost")
		}
		probes := testutil.ToFloat64(eventsProbes)
		s.emu.SetEvents(eksemulator.EventsConfig{Queue: eventsQueue})
		// Nothing else writes: the probe's event alone shows the way open again.
		eventually(t, 20*time.Second, "events flowing again after a probe", func() (bool, string) {
			return flowing(), fmt.Sprintf("not flowing; %g probes since", testutil.ToFloat64(eventsProbes)-probes)
		})
	})
}

// flowAt is an EventsFlow that says events arrive, or not, everywhere.
type flowAt bool

func (f flowAt) Flowing(string, string) bool { return bool(f) }

// TestBackstopPeriods: the sweeps and verification run at their events periods
// only while events arrive, and are looked at again within the no-events
// period whatever the events say.
func TestBackstopPeriods(t *testing.T) {
	clients := testClients(awsConfig(), "http://127.0.0.1:1", nil)
	target := awsapi.Target{Region: region, RoleARN: "arn:aws:iam::" + remoteAccount + ":role/operator"}
	opts := SweepOptions{Period: time.Minute, WatchedPeriod: 30 * time.Second, EventsPeriod: time.Hour, EventsWatchedPeriod: 20 * time.Minute}
	for _, tc := range []struct {
		flow         EventsFlow
		all, watched time.Duration
	}{
		{flow: nil, all: time.Minute, watched: 30 * time.Second},
		{flow: flowAt(false), all: time.Minute, watched: 30 * time.Second},
		{flow: flowAt(true), all: time.Hour, watched: 20 * time.Minute},
	} {
		s := &Sweeper{SweepOptions: opts, AWS: clients, Events: tc.flow}
		if got := s.period(context.Background(), sweepAll, target); got != tc.all {
			t.Errorf("flow %v: sweep period %s, want %s", tc.flow, got, tc.all)
		}
		if got := s.period(context.Background(), sweepWatched, target); got != tc.watched {
			t.Errorf("flow %v: watched period %s, want %s", tc.flow, got, tc.watched)
		}
	}

	verified := metav1.NewTime(time.Now().Add(-2 * time.Hour))
	p := &entryPass{ae: &v1.AccessEntry{Status: v1.AccessEntryStatus{LastVerifiedAt: &verified}}, target: target}
	r := &AccessEntryReconciler{Deps: Deps{AWS: clients}, EntryOptions: EntryOptions{VerifyPeriod: time.Hour, EventsVerifyPeriod: 24 * time.Hour}}
	if left := r.verificationLeft(context.Background(), p); left != 0 {
		t.Errorf("no events: verified 2h ago with a 1h period, %s left, want due", left)
	}
	r.Events = flowAt(true)
	if left := r.verificationLeft(context.Background(), p); left < 21*time.Hour {
		t.Errorf("events flowing: verified 2h ago with a 24h period, %s left, want about 22h", left)
	}
}

// TestPruneHintsFlood: a flood of forged events naming principals EKS does not
// hold, on a cluster whose config deletes unmanaged entries, costs a bounded
// number of reads (hintCap a minute, then a listing), and a real unmanaged
// admin entry made during it is still deleted, by the listing at the latest.
func TestPruneHintsFlood(t *testing.T) {
	s := startEventsStack(t, "events-flood", EventOptions{MaxDelay: time.Minute, ProbeAfter: time.Hour, DownAfter: 45 * time.Second})
	ctx := context.Background()
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: s.cluster, Labels: map[string]string{shardLabel: s.shard}},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: s.cluster, UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}}
	createConfig(t, cac)
	waitConfig(t, cac.Name, 30*time.Second, "to be ready", configReady)
	describes := func() int { return total(s.emu.Calls()["DescribeAccessEntry"]) }
	before, received := describes(), testutil.ToFloat64(eventsReceived)

	const forged = 300
	for i := 0; i < forged; i += 10 {
		var batch []sqstypes.SendMessageBatchRequestEntry
		for j := i; j < i+10; j++ {
			batch = append(batch, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)),
				MessageBody: aws.String(forgedEvent("CreateAccessEntry", s.cluster, roleARN(fmt.Sprintf("flood-%d", j)), false))})
		}
		if _, err := s.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.emu.QueueURL(eventsQueue)), Entries: batch}); err != nil {
			t.Fatal(err)
		}
	}
	intruder := roleARN("flood-intruder")
	if _, err := s.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(intruder)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(s.cluster), PrincipalArn: aws.String(intruder),
		PolicyArn: aws.String(policyARN("AmazonEKSAdminPolicy")), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil && !awsapi.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the flood read", func() (bool, string) {
		got := testutil.ToFloat64(eventsReceived) - received
		return got >= forged, fmt.Sprintf("%g read", got)
	})
	s.waitHeld(t, intruder, 90*time.Second, "pruned during the flood", func(_ eksemulator.Entry, held bool) bool { return !held })
	// What the flood still had the operator read comes within seconds: at the
	// test's 20 calls a second, 300 reads would take 15.
	time.Sleep(20 * time.Second)
	// Two windows of hintCap at most, and the intruder's reads.
	n := describes() - before
	t.Logf("%d entries read for %d forged events; %v", n, forged, s.emu.Calls()["DescribeAccessEntry"])
	if n > 2*hintCap+5 {
		t.Errorf("%d entries read for %d forged events: the hints are not bounded", n, forged)
	}
}

func total(outcomes map[string]int) int {
	n := 0
	for _, v := range outcomes {
		n += v
	}
	return n
}
