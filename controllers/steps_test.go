package controllers

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// The tests in this file run each step of the AccessEntry reconcile on its own, in
// seconds and without kube-apiserver (they run in `make test-unit`): the API server
// is controller-runtime's fake client, and EKS is the emulator in process, served
// over HTTP to the real SDK client.

// stepWorld is one test's reconciler, fake API server and emulator.
type stepWorld struct {
	r   *AccessEntryReconciler
	k8s client.Client
	emu *eksemulator.Server
	eks *eks.Client
	// url is the emulator's endpoint.
	url string
}

func newStepWorld(t *testing.T, objs ...client.Object) *stepWorld {
	t.Helper()
	emu, err := eksemulator.New(eksemulator.Config{Clusters: []eksemulator.ClusterConfig{
		{Name: "demo", Account: account, Region: region, AuthenticationMode: "API"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	k8s := fake.NewClientBuilder().WithScheme(newScheme()).WithObjects(objs...).
		WithStatusSubresource(&v1.AccessEntry{}, &v1.ClusterAccessConfig{}).
		WithIndex(&v1.AccessEntry{}, accessEntryARNField, func(o client.Object) []string { return []string{o.(*v1.AccessEntry).Status.AccessEntryARN} }).
		WithIndex(&v1.AccessEntry{}, clusterNameField, func(o client.Object) []string { return []string{o.(*v1.AccessEntry).Spec.ClusterName} }).
		WithIndex(&v1.AccessEntry{}, retainedField, retainedKeys).
		WithIndex(&v1.AccessEntry{}, principalField, func(o client.Object) []string {
			ae := o.(*v1.AccessEntry)
			return []string{principalKey(ae.Spec.ClusterName, ae.Spec.PrincipalARN)}
		}).
		Build()
	return &stepWorld{
		r: &AccessEntryReconciler{Deps: Deps{Client: k8s, APIReader: k8s, AWS: testClients(awsConfig(), srv.URL, nil)},
			EntryOptions: stepOptions(), Suspects: NewSuspects(), Sweeper: &Sweeper{}},
		k8s: k8s,
		emu: emu,
		eks: eks.NewFromConfig(awsConfig(), func(o *eks.Options) { o.BaseEndpoint = aws.String(srv.URL) }),
		url: srv.URL,
	}
}

// stepOptions are the options of the step tests' reconciler.
func stepOptions() EntryOptions {
	o := testEntryOptions(time.Hour)
	o.RecheckInterval = time.Minute
	return o
}

// pass is a pass over ae as the reconciler starts one, with resolveConfig done.
func (w *stepWorld) pass(t *testing.T, ae *v1.AccessEntry) *entryPass {
	t.Helper()
	p := newEntryPass(ae)
	if err := w.r.resolveConfig(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// seed creates an entry the way someone else would, with tags, and returns its ARN.
func (w *stepWorld) seed(t *testing.T, principal, typ string, tags map[string]string) string {
	t.Helper()
	out, err := w.eks.CreateAccessEntry(context.Background(), &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"),
		PrincipalArn: aws.String(principal), Type: aws.String(typ), Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.AccessEntry.AccessEntryArn)
}

func (w *stepWorld) entry(principal string) (eksemulator.Entry, bool) {
	for _, e := range w.emu.Entries(account, region, "demo") {
		if e.PrincipalARN == principal {
			return e, true
		}
	}
	return eksemulator.Entry{}, false
}

// writes counts the calls that changed EKS (a refused create changed nothing).
func (w *stepWorld) writes() int {
	n := 0
	for op, outcomes := range w.emu.Calls() {
		if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "List") && eksemulator.IsEKS(op) {
			n += outcomes["OK"]
		}
	}
	return n
}

func stepObject(name string, mutate ...func(*v1.AccessEntry)) *v1.AccessEntry {
	ae := &v1.AccessEntry{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: k8stypes.UID("uid-" + name), Generation: 1},
		Spec:       v1.AccessEntrySpec{ClusterName: "demo", PrincipalARN: roleARN(name)},
	}
	for _, m := range mutate {
		m(ae)
	}
	return ae
}

func outcomeOf(t *testing.T, err error) *outcome {
	t.Helper()
	var o *outcome
	if !errors.As(err, &o) {
		t.Fatalf("want an outcome, got %v", err)
	}
	return o
}

// TestEnsureEntryClaims runs ensureEntry against each kind of existing entry and
// checks the decision's effect: what was written, and what status records.
func TestEnsureEntryClaims(t *testing.T) {
	adopt := func(ae *v1.AccessEntry) { ae.Annotations = map[string]string{v1.AdoptAnnotation: "true"} }
	cases := []struct {
		name       string
		seedType   string
		seedTags   func(ae *v1.AccessEntry) map[string]string
		mutate     []func(*v1.AccessEntry)
		wantReason string // "" for success
		wantWrites int
		wantOwned  bool // the entry carries the object's tags afterwards
		// recordedElsewhere: another AccessEntry's status records the entry.
		recordedElsewhere bool
	}{
		{name: "absent: created", wantWrites: 1, wantOwned: true},
		{name: "nobody's: AlreadyExists, nothing written", seedType: "STANDARD",
			seedTags: func(*v1.AccessEntry) map[string]string { return map[string]string{"made-by": "hand"} }, wantReason: v1.ReasonAlreadyExists},
		{name: "nobody's, adopt: tagged and nothing else", seedType: "STANDARD", mutate: []func(*v1.AccessEntry){adopt},
			seedTags: func(*v1.AccessEntry) map[string]string { return nil }, wantWrites: 1, wantOwned: true},
		{name: "nobody's, adopt, another type: AlreadyExists", seedType: "EC2_LINUX", mutate: []func(*v1.AccessEntry){adopt},
			seedTags: func(*v1.AccessEntry) map[string]string { return nil }, wantReason: v1.ReasonAlreadyExists},
		{name: "another AccessEntry records it: Conflict, even with adopt", seedType: "STANDARD", mutate: []func(*v1.AccessEntry){adopt}, recordedElsewhere: true,
			seedTags: func(ae *v1.AccessEntry) map[string]string {
				return ownership.Owner{Instance: instance, Namespace: "elsewhere", Name: ae.Name}.Tags()
			}, wantReason: v1.ReasonConflict},
		{name: "tags of an object that does not record it (retained, then deleted): adopted", seedType: "STANDARD", mutate: []func(*v1.AccessEntry){adopt},
			seedTags: func(ae *v1.AccessEntry) map[string]string {
				return ownership.Owner{Instance: instance, Namespace: "elsewhere", Name: "gone"}.Tags()
			}, wantWrites: 1, wantOwned: true},
		{name: "created under the recorded intent, answer lost: taken as ours", seedType: "STANDARD", mutate: []func(*v1.AccessEntry){intentRecorded},
			seedTags: func(ae *v1.AccessEntry) map[string]string { return w0owner(ae).Tags() }, wantOwned: true},
		{name: "of the previous type, created under the intent: deleted, then wait", seedType: "EC2_LINUX", mutate: []func(*v1.AccessEntry){intentRecorded},
			seedTags: func(ae *v1.AccessEntry) map[string]string { return w0owner(ae).Tags() }, wantReason: v1.ReasonWaitingForEKS, wantWrites: 1},
		{name: "our tags, but not created by us (forged): Conflict, nothing written", seedType: "STANDARD",
			seedTags: func(ae *v1.AccessEntry) map[string]string { return w0owner(ae).Tags() }, wantReason: v1.ReasonConflict, wantOwned: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ae := stepObject("claim", c.mutate...)
			w := newStepWorld(t, ae)
			if c.seedType != "" {
				arn := w.seed(t, ae.Spec.PrincipalARN, c.seedType, c.seedTags(ae))
				if ae.Status.IdentityRecordedAt == nil {
					// Made long before this object: no intent of its own covers it.
					w.emu.Backdate(account, region, "demo", ae.Spec.PrincipalARN, time.Hour)
				}
				if c.recordedElsewhere {
					w.recordElsewhere(t, arn)
				}
			}
			before, _ := w.entry(ae.Spec.PrincipalARN)
			w.emu.ResetCalls()
			p := w.pass(t, ae)
			err := w.r.ensureEntry(context.Background(), p)

			if c.wantReason == "" && err != nil {
				t.Fatalf("ensureEntry: %v", err)
			}
			if c.wantReason != "" {
				if o := outcomeOf(t, err); o.reason != c.wantReason {
					t.Fatalf("reason %s (%s), want %s", o.reason, o.message, c.wantReason)
				}
				if p.ae.Status.Identity != nil && c.wantReason != v1.ReasonWaitingForEKS {
					t.Errorf("status still records %+v for an entry that is not ours", p.ae.Status.Identity)
				}
			}
			if got := w.writes(); got != c.wantWrites {
				t.Errorf("%d writes to EKS, want %d (%v)", got, c.wantWrites, w.emu.Calls())
			}
			after, present := w.entry(ae.Spec.PrincipalARN)
			owner, _ := ownership.Of(after.Tags)
			if owned := present && owner == w.r.owner(ae); owned != c.wantOwned {
				t.Errorf("entry owned by the object: %v, want %v (tags %v)", owned, c.wantOwned, after.Tags)
			}
			if c.wantReason != "" && c.wantWrites == 0 && !slices.Equal(before.KubernetesGroups, after.KubernetesGroups) {
				t.Errorf("a refused entry changed: %+v -> %+v", before, after)
			}
			if c.wantReason == "" && p.ae.Status.AccessEntryARN != after.AccessEntryARN {
				t.Errorf("status records %q, EKS holds %q", p.ae.Status.AccessEntryARN, after.AccessEntryARN)
			}
			if c.wantReason == "" && (p.obs == nil || p.ae.Status.Identity == nil || *p.ae.Status.Identity != p.id) {
				t.Errorf("after success: obs %+v, status identity %+v, want %+v", p.obs, p.ae.Status.Identity, p.id)
			}
		})
	}
}

// TestRetireOldIdentity moves an object to another principal and checks what
// becomes of the old entry: deleted when ours, kept under Retain, never deleted
// when someone else's; status forgets it each time.
func TestRetireOldIdentity(t *testing.T) {
	cases := []struct {
		name        string
		retain      bool
		oldOwner    func(ae *v1.AccessEntry) ownership.Owner
		recorded    bool // status records the old entry's ARN
		wantOldLeft bool
		wantWrites  int
	}{
		{name: "ours: deleted", oldOwner: w0owner, recorded: true, wantWrites: 1},
		{name: "ours, Retain: kept, not even read", retain: true, oldOwner: w0owner, recorded: true, wantOldLeft: true},
		{name: "someone else's: kept", oldOwner: func(*v1.AccessEntry) ownership.Owner {
			return ownership.Owner{Instance: "other", Namespace: "x", Name: "y"}
		}, wantOldLeft: true},
		{name: "our tags on an entry status does not record (forged): kept", oldOwner: w0owner, wantOldLeft: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ae := stepObject("mover", func(ae *v1.AccessEntry) {
				if c.retain {
					ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
				}
			})
			old := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: roleARN("mover-old"), Type: v1.TypeStandard}
			ae.Status.Identity = &old
			ae.Status.Username = "old-user"
			ae.Status.Conditions = []metav1.Condition{{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonSynced, LastTransitionTime: metav1.Now()}}
			w := newStepWorld(t, ae)
			arn := w.seed(t, old.PrincipalARN, "STANDARD", c.oldOwner(ae).Tags())
			if c.recorded {
				p0 := ae.DeepCopy()
				p0.Status.AccessEntryARN = arn
				if err := w.k8s.Status().Patch(context.Background(), p0, client.MergeFrom(ae)); err != nil {
					t.Fatal(err)
				}
				ae = p0
			}
			w.emu.ResetCalls()

			p := w.pass(t, ae)
			if err := w.r.retireOldIdentity(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			if _, left := w.entry(old.PrincipalARN); left != c.wantOldLeft {
				t.Errorf("old entry left: %v, want %v", left, c.wantOldLeft)
			}
			if got := w.writes(); got != c.wantWrites {
				t.Errorf("%d writes, want %d", got, c.wantWrites)
			}
			for op := range w.emu.Calls() {
				if c.retain && eksemulator.IsEKS(op) {
					t.Errorf("Retain read EKS: %v", w.emu.Calls())
				}
			}
			// Forgotten at once, on the server too.
			stored := &v1.AccessEntry{}
			if err := w.k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), stored); err != nil {
				t.Fatal(err)
			}
			if stored.Status.Identity != nil || stored.Status.Username != "" {
				t.Errorf("the server's status still names the old entry: %+v", stored.Status)
			}
			kept := slices.ContainsFunc(stored.Status.RetainedEntries, func(e v1.RetainedEntry) bool { return e.ARN == arn })
			if kept != (c.retain && c.recorded) {
				t.Errorf("status.retainedEntries %+v, want the old entry listed: %v", stored.Status.RetainedEntries, c.retain && c.recorded)
			}
			// While the entry is replaced, the object does not read Ready.
			if meta.IsStatusConditionTrue(stored.Status.Conditions, v1.ConditionReady) {
				t.Errorf("the server's status reads Ready while the entry moves: %+v", stored.Status.Conditions)
			}
		})
	}
}

// recordElsewhere makes another AccessEntry whose status records the entry arn.
func (w *stepWorld) recordElsewhere(t *testing.T, arn string) {
	t.Helper()
	other := stepObject("owner", func(ae *v1.AccessEntry) { ae.Namespace = "elsewhere" })
	if err := w.k8s.Create(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	other.Status.AccessEntryARN = arn
	if err := w.k8s.Status().Update(context.Background(), other); err != nil {
		t.Fatal(err)
	}
}

// intentRecorded is the status of an object whose create was sent a moment ago
// and whose answer was lost.
func intentRecorded(ae *v1.AccessEntry) {
	id := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: ae.Spec.PrincipalARN, Type: ae.Spec.EntryType()}
	at := metav1.NewTime(time.Now().Add(-2 * time.Second))
	ae.Status.Identity, ae.Status.IdentityRecordedAt = &id, &at
}

func w0owner(ae *v1.AccessEntry) ownership.Owner {
	return ownership.Owner{Instance: instance, Namespace: ae.Namespace, Name: ae.Name}
}

// TestStatusAfterIdentityChange is the pass as a whole: after a move, status must
// hold the new entry's username and groups on the server, though an intent patch
// reset them in the middle of the pass (the final patch used to be computed
// against the object as the pass began, so values equal to the old ones were
// never written back).
func TestStatusAfterIdentityChange(t *testing.T) {
	ae := stepObject("moved", func(ae *v1.AccessEntry) {
		ae.Finalizers = []string{v1.Finalizer}
		ae.Spec.Username = "dev"
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"team"}
	})
	old := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: roleARN("moved-old"), Type: v1.TypeStandard}
	ae.Status.Identity = &old
	ae.Status.Username, ae.Status.KubernetesGroups = "dev", []string{"team"}
	w := newStepWorld(t, ae)
	arn := w.seed(t, old.PrincipalARN, "STANDARD", w0owner(ae).Tags())
	stored := &v1.AccessEntry{}
	if err := w.k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), stored); err != nil {
		t.Fatal(err)
	}
	patched := stored.DeepCopy()
	patched.Status.AccessEntryARN = arn
	if err := w.k8s.Status().Patch(context.Background(), patched, client.MergeFrom(stored)); err != nil {
		t.Fatal(err)
	}

	res, err := w.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ae)})
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	if err := w.k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), stored); err != nil {
		t.Fatal(err)
	}
	if !meta.IsStatusConditionTrue(stored.Status.Conditions, v1.ConditionReady) {
		t.Fatalf("not Ready: %+v", stored.Status.Conditions)
	}
	if stored.Status.Username != "dev" || !slices.Equal(stored.Status.KubernetesGroups, []string{"team"}) ||
		stored.Status.Identity == nil || stored.Status.Identity.PrincipalARN != ae.Spec.PrincipalARN || stored.Status.AccessEntryARN == "" {
		t.Errorf("the server's status after the move: username %q groups %q identity %+v arn %q",
			stored.Status.Username, stored.Status.KubernetesGroups, stored.Status.Identity, stored.Status.AccessEntryARN)
	}
	if _, left := w.entry(old.PrincipalARN); left {
		t.Error("the old entry is still there")
	}
}

// TestMovesBackToRetainedEntry: an object that kept its entry under Retain when it
// moved away, and then moves back, takes that entry again as its own (its status
// recorded it), though the entry was made long before.
func TestMovesBackToRetainedEntry(t *testing.T) {
	ae := stepObject("returning", func(ae *v1.AccessEntry) { ae.Finalizers = []string{v1.Finalizer} })
	w := newStepWorld(t, ae)
	tags := w0owner(ae).Tags()
	tags["dropped"], tags["theirs"] = "from its spec then", "set by someone else"
	arn := w.seed(t, ae.Spec.PrincipalARN, "STANDARD", tags)
	w.emu.Backdate(account, region, "demo", ae.Spec.PrincipalARN, time.Hour)
	stored := &v1.AccessEntry{}
	if err := w.k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), stored); err != nil {
		t.Fatal(err)
	}
	retained := stored.DeepCopy()
	retained.Status.RetainedEntries = []v1.RetainedEntry{{ARN: "arn:aws:eks:us-west-2:111122223333:access-entry/demo/role/other"}, {ARN: arn, ManagedTags: []string{"dropped"}}}
	if err := w.k8s.Status().Patch(context.Background(), retained, client.MergeFrom(stored)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ae)}); err != nil {
		t.Fatal(err)
	}
	if err := w.k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), stored); err != nil {
		t.Fatal(err)
	}
	if !meta.IsStatusConditionTrue(stored.Status.Conditions, v1.ConditionReady) || stored.Status.AccessEntryARN != arn ||
		len(stored.Status.RetainedEntries) != 1 || stored.Status.RetainedEntries[0].ARN == arn {
		t.Errorf("status after moving back: %+v", stored.Status)
	}
	// The tag its spec wrote then and has dropped since goes; someone else's stays.
	if e, _ := w.entry(ae.Spec.PrincipalARN); e.Tags["dropped"] != "" || e.Tags["theirs"] == "" {
		t.Errorf("tags after moving back: %v", e.Tags)
	}
}

// TestRemoveEntryOnDelete: a deleted object's entry goes when ours, stays under
// Retain or when someone else's; the finalizer is released in each case.
func TestRemoveEntryOnDelete(t *testing.T) {
	for _, c := range []struct {
		name      string
		retain    bool
		ours      bool
		wantLeft  bool
		wantEvent string
	}{
		{name: "ours", ours: true, wantEvent: "Deleted"},
		{name: "ours, Retain", ours: true, retain: true, wantLeft: true, wantEvent: "Retained"},
		{name: "someone else's: kept, and the deletion says it revoked nothing", wantLeft: true, wantEvent: "NotRevoked"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ae := stepObject("leaving", func(ae *v1.AccessEntry) {
				ae.Finalizers = []string{v1.Finalizer}
				if c.retain {
					ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
				}
			})
			id := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: ae.Spec.PrincipalARN, Type: v1.TypeStandard}
			ae.Status.Identity = &id
			w := newStepWorld(t, ae)
			owner := ownership.Owner{Instance: "someone", Namespace: "x", Name: "y"}
			if c.ours {
				owner = w0owner(ae)
			}
			arn := w.seed(t, id.PrincipalARN, "STANDARD", owner.Tags())
			if c.ours {
				recorded := ae.DeepCopy()
				recorded.Status.AccessEntryARN = arn
				if err := w.k8s.Status().Patch(context.Background(), recorded, client.MergeFrom(ae)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.k8s.Delete(context.Background(), ae); err != nil {
				t.Fatal(err)
			}
			stored := &v1.AccessEntry{}
			if err := w.k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), stored); err != nil {
				t.Fatal(err)
			}
			p := newEntryPass(stored)
			if err := run(context.Background(), p, w.r.removeEntry, w.r.releaseFinalizer); err != nil {
				t.Fatal(err)
			}
			if _, left := w.entry(id.PrincipalARN); left != c.wantLeft {
				t.Errorf("entry left: %v, want %v", left, c.wantLeft)
			}
			var reasons []string
			for _, e := range p.events {
				reasons = append(reasons, e.reason)
			}
			if c.wantEvent != "" && !slices.Contains(reasons, c.wantEvent) || c.wantEvent == "" && len(reasons) > 0 {
				t.Errorf("events %v, want %q", reasons, c.wantEvent)
			}
			if err := w.k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), stored); err == nil {
				t.Errorf("the object is still there with finalizers %v", stored.Finalizers)
			}
		})
	}
}

// TestConclude checks the one place that turns how a pass ended into conditions
// and a result.
func TestConclude(t *testing.T) {
	r := &AccessEntryReconciler{EntryOptions: stepOptions()}
	apiErr := errors.New("the API server is away")
	invalidErr := &types.InvalidParameterException{Message: aws.String("bad")}
	cases := []struct {
		name          string
		err           error
		deleting      bool
		wantReady     metav1.ConditionStatus
		wantReason    string
		wantStalled   bool
		wantRequeue   func(time.Duration) bool
		wantErr       func(error) bool
		wantUntouched bool
	}{
		{name: "success: Ready, resync", wantReady: "True", wantReason: v1.ReasonSynced,
			wantRequeue: func(d time.Duration) bool { return d >= time.Hour && d <= 66*time.Minute }, wantErr: isNil},
		{name: "success while deleting: nothing", deleting: true, wantUntouched: true, wantRequeue: isZero, wantErr: isNil},
		{name: "stall: Stalled, checked after its time", err: stall(v1.ReasonConflict, time.Minute, "taken"),
			wantReady: "False", wantReason: v1.ReasonConflict, wantStalled: true, wantRequeue: equals(time.Minute), wantErr: isNil},
		{name: "invalid: Stalled, terminal", err: invalid(v1.ReasonInvalidSpec, invalidErr, "refused"),
			wantReady: "False", wantReason: v1.ReasonInvalidSpec, wantStalled: true, wantRequeue: isZero,
			wantErr: func(err error) bool { return errors.Is(err, reconcile.TerminalError(nil)) }},
		{name: "wait: Reconciling, backoff", err: waitFor(v1.ReasonWaitingForEKS, "not yet"),
			wantReady: "False", wantReason: v1.ReasonWaitingForEKS, wantRequeue: equals(time.Second), wantErr: isNil},
		{name: "retry: Reconciling, its time", err: retryAfter(v1.ReasonClusterUpdating, 5*time.Second, "updating"),
			wantReady: "False", wantReason: v1.ReasonClusterUpdating, wantRequeue: equals(5 * time.Second), wantErr: isNil},
		{name: "AWS failure: Reconciling EKSError, error to the workqueue", err: failed(v1.ReasonEKSError, apiErr, "EKS call failed"),
			wantReady: "False", wantReason: v1.ReasonEKSError, wantRequeue: isZero, wantErr: func(err error) bool { return errors.Is(err, apiErr) }},
		{name: "API server error: conditions untouched, error returned", err: apiErr, wantUntouched: true, wantRequeue: isZero,
			wantErr: func(err error) bool { return err == apiErr }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ae := stepObject("concluded")
			res, err := r.ending(ae, c.deleting).conclude(c.err)
			if !c.wantErr(err) || !c.wantRequeue(res.RequeueAfter) {
				t.Fatalf("conclude = %+v, %v", res, err)
			}
			ready := readyCondition(ae)
			if c.wantUntouched {
				if len(ae.Status.Conditions) != 0 {
					t.Fatalf("conditions set: %+v", ae.Status.Conditions)
				}
				return
			}
			if ready == nil || ready.Status != c.wantReady || ready.Reason != c.wantReason {
				t.Fatalf("Ready %+v, want %s %s", ready, c.wantReady, c.wantReason)
			}
			if got := meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionStalled); got != c.wantStalled {
				t.Errorf("Stalled %v, want %v", got, c.wantStalled)
			}
			if reconciling := meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReconciling); reconciling == (c.wantStalled || c.wantReady == "True") {
				t.Errorf("Reconciling %v with Ready %s and Stalled %v", reconciling, c.wantReady, c.wantStalled)
			}
		})
	}
}

func isNil(err error) bool        { return err == nil }
func isZero(d time.Duration) bool { return d == 0 }
func equals(want time.Duration) func(time.Duration) bool {
	return func(d time.Duration) bool { return d == want }
}

// TestEKSOutcome classifies the EKS errors the AccessEntry controller meets, as
// the SDK decodes them, into the outcome a user sees.
func TestEKSOutcome(t *testing.T) {
	r := &AccessEntryReconciler{EntryOptions: stepOptions()}
	id := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: roleARN("x"), Type: v1.TypeStandard}
	cases := []struct {
		err      error
		kind     outcomeKind
		reason   string
		terminal bool
	}{
		{&types.InvalidParameterException{Message: aws.String("The specified principalArn is invalid: invalid principal")}, kindWait, v1.ReasonPrincipalNotFound, false},
		{&types.InvalidParameterException{Message: aws.String("bad username")}, kindStall, v1.ReasonInvalidSpec, true},
		{&types.InvalidRequestException{Message: aws.String("The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP]")}, kindStall, v1.ReasonAuthenticationModeNotSupported, false},
		{&types.ResourceNotFoundException{Message: aws.String("No cluster found for name: demo.")}, kindStall, v1.ReasonClusterNotFound, false},
		{&types.ResourceNotFoundException{Message: aws.String("The specified access entry resource is not found")}, kindWait, v1.ReasonWaitingForEKS, false},
		{&types.ResourceLimitExceededException{Message: aws.String("quota")}, kindStall, v1.ReasonLimitExceeded, false},
		{&types.ResourceInUseException{Message: aws.String("in use")}, kindWait, v1.ReasonWaitingForEKS, false},
		{&types.ServerException{Message: aws.String("boom")}, kindError, v1.ReasonEKSError, false},
	}
	for _, c := range cases {
		o := outcomeOf(t, r.eksOutcome(id, c.err))
		if o.kind != c.kind || o.reason != c.reason || o.terminal != c.terminal {
			t.Errorf("%T %q: kind %d reason %s terminal %v; want %d %s %v", c.err, aws.ToString(errMessage(c.err)), o.kind, o.reason, o.terminal, c.kind, c.reason, c.terminal)
		}
		if o.message == "" {
			t.Errorf("%T: no message", c.err)
		}
	}
}

func errMessage(err error) *string {
	var m interface{ ErrorMessage() string }
	if errors.As(err, &m) {
		return aws.String(m.ErrorMessage())
	}
	return nil
}
