package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// principalsOf names each sample's principal by sample name: its
// principalARN, or, for a sample naming an IAM Identity Center permission set,
// the role its status says the set resolved to, which must be the one role
// IAM (the emulator) holds for the set now.
func principalsOf(ctx context.Context, c client.Client, emu *eksemulator.Server, samples []*v1.AccessEntry) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range samples {
		ic := s.Spec.IdentityCenter
		if ic == nil {
			out[s.Name] = s.Spec.PrincipalARN
			continue
		}
		var held []string
		for _, p := range emu.State().Principals {
			if awsapi.IsPermissionSetRole(p.ARN, ic.PermissionSet) {
				held = append(held, p.ARN)
			}
		}
		live := &v1.AccessEntry{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(s), live); err != nil {
			return nil, err
		}
		rec := live.Status.IdentityCenter
		if len(held) != 1 || rec == nil || rec.RoleARN != held[0] {
			return nil, fmt.Errorf("%s names permission set %s: IAM holds %v for it, and the object's status says %+v", s.Name, ic.PermissionSet, held, rec)
		}
		step("%s names permission set %s; the operator found its role in IAM: %s", s.Name, ic.PermissionSet, rec.RoleARN)
		out[s.Name] = rec.RoleARN
	}
	return out, nil
}

// showReprovision has IAM Identity Center provision the developers' permission
// set again (a new role, as after reassigning the set) and waits for the
// operator to move the developers' entry to it: found at its next principal
// check (--principal-check-interval, 30s in the demo). It returns the new role.
func showReprovision(ctx context.Context, c client.Client, emu *eksemulator.Server, ae *v1.AccessEntry, old string, within time.Duration) (string, error) {
	set := ae.Spec.IdentityCenter.PermissionSet
	moved, err := emu.ReprovisionPermissionSet(account, set)
	if err != nil {
		return "", err
	}
	step("IAM Identity Center provisions permission set %s again: its role is now %s", set, moved)
	at := time.Now()
	for time.Since(at) < within {
		live := &v1.AccessEntry{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(ae), live); err != nil {
			return "", err
		}
		_, oldHeld := emu.Entry(account, region, cluster, old)
		_, newHeld := emu.Entry(account, region, cluster, moved)
		if rec := live.Status.IdentityCenter; rec != nil && rec.RoleARN == moved && newHeld && !oldHeld {
			step("the operator moved the entry of %s to the new role %.0fs later (at its next principal check), and deleted the old role's", ae.Name, time.Since(at).Seconds())
			return moved, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return "", fmt.Errorf("%s's entry was not on the new role %s %s after the set was provisioned again", ae.Name, moved, within)
}
