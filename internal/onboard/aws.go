package onboard

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// NewEKSClient builds an EKS client from the SDK's default configuration chain
// (environment, shared config and credentials files, SSO, IMDS), for region, or for
// the configuration's region when region is empty, and returns the region used.
// endpoint, when set, replaces the regional endpoint (the EKS emulator, a VPC
// endpoint). Throttling is retried patiently: an import of a large cluster makes
// two calls an entry.
func NewEKSClient(ctx context.Context, region, endpoint string) (*eks.Client, string, error) {
	region, cfg, err := loadConfig(ctx, region)
	if err != nil {
		return nil, "", err
	}
	if region == "" {
		return nil, "", fmt.Errorf("no AWS region: pass --region, or set AWS_REGION or a region in your AWS profile")
	}
	cl := eks.NewFromConfig(cfg, func(o *eks.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), 10)
	})
	return cl, region, nil
}

// ResolveRegion is region, or else the region of the SDK's default configuration
// (AWS_REGION, AWS_DEFAULT_REGION, the profile); "" when there is none. It reads
// only local configuration, never the network.
func ResolveRegion(ctx context.Context, region string) (string, error) {
	region, _, err := loadConfig(ctx, region)
	return region, err
}

// LoadAWSConfig is the SDK's default configuration (for region, or the
// configuration's when region is empty) and the region it resolved ("" when none).
func LoadAWSConfig(ctx context.Context, region string) (string, aws.Config, error) {
	return loadConfig(ctx, region)
}

func loadConfig(ctx context.Context, region string) (string, aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return "", cfg, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if region != "" {
		cfg.Region = region
	}
	if cfg.Region != "" && !regionRE.MatchString(cfg.Region) {
		return "", cfg, fmt.Errorf("%q is not an AWS region name such as us-west-2", cfg.Region)
	}
	return cfg.Region, cfg, nil
}
