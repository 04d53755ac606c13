package controllers

import (
	"context"
	"slices"
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

// fullPass is a config's full pruning pass under way: the listing of every
// entry of its cluster, page by page, then the judgement of each entry no
// AccessEntry declares. A reconcile cut short, by the account's budget or by
// a throttle, ends there, and the next one goes on from the same place: each
// page and each judgement is paid for once, so that the pass ends on a
// cluster of any size, in an account busy with other work. A pass begun at
// another generation of the config starts again.
type fullPass struct {
	start      time.Time
	generation int64
	// next is the token of the next page; listed once the last page came.
	next   *string
	listed bool
	// principals are those listed so far (sorted once listed); the first
	// judged of them are judged, and unmanaged is what that found.
	principals []string
	judged     int
	unmanaged  []v1.UnmanagedEntry
	// room counts, for the namespaces' entry limits, what the pass kept.
	room *leftoverRoom
}

// fullPassOf is the config's full pass under way, or a new one.
func (r *ClusterAccessConfigReconciler) fullPassOf(cac *v1.ClusterAccessConfig) *fullPass {
	if v, ok := r.fullPasses.Load(cac.UID); ok && v.(*fullPass).generation == cac.Generation {
		return v.(*fullPass)
	}
	fp := &fullPass{start: time.Now(), generation: cac.Generation}
	r.fullPasses.Store(cac.UID, fp)
	return fp
}

// listAll lists the cluster's entries from where the pass got to, keeping each
// page as it comes.
func (r *ClusterAccessConfigReconciler) listAll(ctx context.Context, p *clusterPass, fp *fullPass) error {
	for !fp.listed {
		page, next, err := p.eks.ListPage(ctx, p.cac.Spec.ClusterName, fp.next)
		switch {
		case err != nil && fp.next != nil && awsapi.Classify(err) == awsapi.InvalidSpec:
			// EKS no longer takes the place's token (an old one): list again.
			*fp = fullPass{start: time.Now(), generation: fp.generation}
			return failed(v1.ReasonEKSError, err, "EKS no longer takes the listing's place, listing the cluster again: "+err.Error())
		case err != nil:
			return r.eksOutcome(p, err)
		}
		fp.principals = append(fp.principals, page...)
		fp.next, fp.listed = next, next == nil
		if fp.listed {
			// Sorted once, by the reconcile that lists the last page: the
			// judgement goes on by index, so the order never changes after.
			slices.Sort(fp.principals)
			fp.principals = slices.Compact(fp.principals)
		}
	}
	return nil
}

// judgeAll keeps, reports or deletes (pruneEntry) each listed entry no
// AccessEntry declares, from where the pass got to. The declarations are read
// after the listing ended, so that an entry an AccessEntry created meanwhile is
// declared.
func (r *ClusterAccessConfigReconciler) judgeAll(ctx context.Context, p *clusterPass, fp *fullPass) error {
	declared, err := r.declared(ctx, p.cac, p.region)
	if err != nil {
		return err
	}
	if fp.room == nil {
		if fp.room, err = r.roomOf(ctx, p); err != nil {
			return err
		}
	}
	p.room = fp.room
	for ; fp.judged < len(fp.principals); fp.judged++ {
		principal := fp.principals[fp.judged]
		if declared[principal] == shieldsAny {
			continue
		}
		u, err := r.pruneEntry(ctx, p, principal, declared[principal] == shieldsOwnEntry)
		if err != nil {
			return err
		}
		if u != nil {
			fp.unmanaged = append(fp.unmanaged, *u)
		}
	}
	return nil
}

// endFullPass records what the pass found. Earlier deletions of entries it no
// longer listed stay (the latest 50), so that status tells what was removed.
func (r *ClusterAccessConfigReconciler) endFullPass(p *clusterPass, fp *fullPass) {
	cac := p.cac
	unmanaged := fp.unmanaged
	for _, old := range cac.Status.UnmanagedEntries {
		gone := old.Action == guardrails.PruneDelete || old.Action == guardrails.PruneRevoked
		if _, listed := slices.BinarySearch(fp.principals, old.PrincipalARN); gone && !listed && len(unmanaged) < 50 {
			unmanaged = append(unmanaged, old)
		}
	}
	cac.Status.UnmanagedEntries = unmanaged
	r.fullPrune.Store(cac.UID, fp.start)
	r.fullPasses.Delete(cac.UID)
}
