package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

func entryOf(emu *eksemulator.Server, acct, cl, principal string) (eksemulator.Entry, bool) {
	return emu.Entry(acct, region, cl, principal)
}

// adminClient calls the emulator as the operator's own account, to change EKS
// out of band.
func adminClient(emu *eksemulator.Server) *eks.Client {
	return eks.NewFromConfig(aws.Config{Region: region, Credentials: staticCreds{}}, func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
}

// staticCreds are the credentials of the operator's own account in the emulator.
type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "bench", SecretAccessKey: "bench", Source: "bench"}, nil
}

func phase(emu *eksemulator.Server, d time.Duration) Phase {
	p := Phase{Seconds: d.Seconds(), Calls: map[string]int{}}
	for op, outcomes := range emu.Calls() {
		if !eksemulator.IsEKS(op) {
			// IAM and STS: other services, other quotas.
			for _, n := range outcomes {
				p.OtherAWS += n
			}
			continue
		}
		for outcome, n := range outcomes {
			if outcome == "ThrottlingException" {
				p.Throttled += n
				continue
			}
			p.Calls[op] += n
			p.Total += n
			if isWrite(op) {
				p.Writes += n
			}
		}
	}
	return p
}

func isWrite(op string) bool {
	switch op {
	case "CreateAccessEntry", "UpdateAccessEntry", "DeleteAccessEntry", "AssociateAccessPolicy",
		"DisassociateAccessPolicy", "TagResource", "UntagResource":
		return true
	}
	return false
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}
