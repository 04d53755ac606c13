package awsapi

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// The states of a cluster and of an update that callers wait on, as EKS names them.
const (
	ClusterUpdating  = string(types.ClusterStatusUpdating)
	UpdateInProgress = string(types.UpdateStatusInProgress)
	UpdateSuccessful = string(types.UpdateStatusSuccessful)
)

// Cluster is what the operator reads of an EKS cluster.
type Cluster struct {
	ARN                string
	Status             string
	CreatedAt          time.Time
	AuthenticationMode string
	Version            string
	PlatformVersion    string
}

// Update is an update of a cluster's configuration: its ID, status, and the
// errors EKS gives for one that failed ("code: message").
type Update struct {
	ID     string
	Status string
	Errors []string
}

// DescribeCluster reads a cluster.
func (e EKS) DescribeCluster(ctx context.Context, name string) (Cluster, error) {
	out, err := e.api.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		return Cluster{}, err
	}
	c := out.Cluster
	cl := Cluster{ARN: aws.ToString(c.Arn), Status: string(c.Status), CreatedAt: aws.ToTime(c.CreatedAt),
		Version: aws.ToString(c.Version), PlatformVersion: aws.ToString(c.PlatformVersion)}
	if c.AccessConfig != nil {
		cl.AuthenticationMode = string(c.AccessConfig.AuthenticationMode)
	}
	return cl, nil
}

// SetAuthenticationMode asks EKS to move a cluster to an authentication mode,
// and returns the update it started.
func (e EKS) SetAuthenticationMode(ctx context.Context, name, mode string) (Update, error) {
	out, err := e.api.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{
		Name:         aws.String(name),
		AccessConfig: &types.UpdateAccessConfigRequest{AuthenticationMode: types.AuthenticationMode(mode)},
	})
	if err != nil {
		return Update{}, err
	}
	return updateOf(out.Update), nil
}

// DescribeUpdate reads an update of a cluster.
func (e EKS) DescribeUpdate(ctx context.Context, name, id string) (Update, error) {
	out, err := e.api.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String(name), UpdateId: aws.String(id)})
	if err != nil {
		return Update{}, err
	}
	return updateOf(out.Update), nil
}

func updateOf(u *types.Update) Update {
	if u == nil {
		return Update{}
	}
	out := Update{ID: aws.ToString(u.Id), Status: string(u.Status)}
	for _, e := range u.Errors {
		out.Errors = append(out.Errors, string(e.ErrorCode)+": "+aws.ToString(e.ErrorMessage))
	}
	return out
}
