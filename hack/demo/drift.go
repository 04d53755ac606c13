package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// eventsQueue is the emulator's queue of EKS's events, which the operator reads.
const eventsQueue = "eks-access-events"

// eventsDelay is how long after a write the emulator delivers its event: a
// few seconds, as EventBridge often takes.
const eventsDelay = 2 * time.Second

// secretAdmin reads every Secret of the cluster: the grant an intruder wants.
const secretAdmin = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSSecretAdminPolicy"

// showRevert associates AmazonEKSSecretAdminPolicy with the developers' entry
// out of band, with the AWS CLI when it is installed (the same call through
// the AWS SDK for Go when not), and waits for the operator to take it away:
// the write's event, not a sweep or a verification, tells it (both are an hour
// or more away while events flow).
func showRevert(ctx context.Context, emu *eksemulator.Server, principal string, within time.Duration) error {
	args := []string{"eks", "associate-access-policy", "--cluster-name", cluster, "--principal-arn", principal,
		"--policy-arn", secretAdmin, "--access-scope", "type=cluster", "--endpoint-url", emu.URL()}
	step("drift: an admin grants the developers every Secret, by hand:\n    aws %s", strings.Join(args, " "))
	at := time.Now()
	if err := associateOutOfBand(ctx, emu, principal, args); err != nil {
		return err
	}
	for time.Since(at) < within {
		if e, ok := emu.Entry(account, region, cluster, principal); ok && !slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool { return p.PolicyARN == secretAdmin }) {
			reverted := time.Now()
			w := writeOf(emu, principal, at)
			if w.Event.IsZero() {
				return fmt.Errorf("the grant was taken away, but the emulator's journal holds no delivered event of the write")
			}
			step("EKS delivered the write's event %.1fs after the write; the operator took the grant away %.1fs after that",
				w.Event.Sub(w.Time).Seconds(), reverted.Sub(w.Event).Seconds())
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("AmazonEKSSecretAdminPolicy was still associated with %s %s after the call", principal, within)
}

// associateOutOfBand runs the AWS CLI with args, or, without it, makes the same
// call through the SDK.
func associateOutOfBand(ctx context.Context, emu *eksemulator.Server, principal string, args []string) error {
	if path, err := exec.LookPath("aws"); err == nil {
		cmd := exec.CommandContext(ctx, path, append(args, "--output", "json")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=demo", "AWS_SECRET_ACCESS_KEY=demo", "AWS_DEFAULT_REGION="+region, "AWS_PAGER=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("aws %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	step("(the AWS CLI is not installed: the same call through the AWS SDK for Go)")
	c := eks.NewFromConfig(aws.Config{Region: region, Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "demo", SecretAccessKey: "demo"}, nil
	})}, func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
	_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal),
		PolicyArn: aws.String(secretAdmin), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}})
	return err
}

// writeOf is the first association with principal's entry since at: the
// demo's own, and when its event was delivered.
func writeOf(emu *eksemulator.Server, principal string, at time.Time) eksemulator.Write {
	for _, w := range emu.Writes(principal) {
		if !w.Time.Before(at) && w.Op == "AssociateAccessPolicy" {
			return w
		}
	}
	return eksemulator.Write{}
}
