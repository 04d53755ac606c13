package eksemulator

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

func TestDescribeCluster(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: "prod", Account: otherAccount, Region: "eu-west-1", AuthenticationMode: ModeAPI, KubernetesVersion: "1.33", PlatformVersion: "eks.7"}}})
	c := eksClientIn(s, "eu-west-1", defaultCreds) // default account = first cluster's
	out, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("prod")})
	mustOK(t, err, "DescribeCluster")
	cl := out.Cluster
	if aws.ToString(cl.Arn) != "arn:aws:eks:eu-west-1:444455556666:cluster/prod" || aws.ToString(cl.Name) != "prod" ||
		cl.Status != types.ClusterStatusActive || aws.ToString(cl.Version) != "1.33" || aws.ToString(cl.PlatformVersion) != "eks.7" ||
		cl.AccessConfig.AuthenticationMode != types.AuthenticationModeApi || cl.CreatedAt == nil || time.Since(*cl.CreatedAt) > time.Minute {
		t.Fatalf("cluster = %+v, accessConfig %+v", cl, cl.AccessConfig)
	}
	if aws.ToBool(cl.AccessConfig.BootstrapClusterCreatorAdminPermissions) {
		t.Errorf("bootstrapClusterCreatorAdminPermissions set without a creator")
	}
	list, err := c.ListClusters(ctx, &eks.ListClustersInput{})
	mustOK(t, err, "ListClusters")
	if !slices.Equal(list.Clusters, []string{"prod"}) {
		t.Errorf("clusters = %v", list.Clusters)
	}
}

func TestDefaultClusterVersions(t *testing.T) {
	s := startServer(t, Config{})
	out, err := eksClient(s).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
	mustOK(t, err, "DescribeCluster")
	if aws.ToString(out.Cluster.Version) != "1.34" || aws.ToString(out.Cluster.PlatformVersion) != "eks.10" ||
		out.Cluster.AccessConfig.AuthenticationMode != types.AuthenticationModeApiAndConfigMap {
		t.Fatalf("default cluster = version %s platform %s mode %s", aws.ToString(out.Cluster.Version),
			aws.ToString(out.Cluster.PlatformVersion), out.Cluster.AccessConfig.AuthenticationMode)
	}
}

func updateMode(c *eks.Client, name string, mode types.AuthenticationMode) (*eks.UpdateClusterConfigOutput, error) {
	return c.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{
		Name: aws.String(name), AccessConfig: &types.UpdateAccessConfigRequest{AuthenticationMode: mode},
	})
}

// waitForUpdate polls DescribeUpdate until the update succeeds.
func waitForUpdate(t *testing.T, c *eks.Client, name, id string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		out, err := c.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String(name), UpdateId: aws.String(id)})
		if err != nil {
			return err
		}
		if out.Update.Status != types.UpdateStatusSuccessful {
			return errors.New("update status " + string(out.Update.Status))
		}
		return nil
	})
}

func TestAuthenticationModeMovesForwardAsynchronously(t *testing.T) {
	creator := roleARN(testAccount, "cluster-creator")
	s := startServer(t, Config{
		Clusters:       []ClusterConfig{{Name: testCluster, AuthenticationMode: ModeConfigMap, CreatorAdmin: creator}},
		UpdateDuration: time.Second,
	})
	c := eksClient(s)

	start := time.Now()
	out, err := updateMode(c, testCluster, types.AuthenticationModeApiAndConfigMap)
	mustOK(t, err, "update to API_AND_CONFIG_MAP")
	u := out.Update
	if u.Type != types.UpdateTypeAccessConfigUpdate || u.Status != types.UpdateStatusInProgress || aws.ToString(u.Id) == "" ||
		len(u.Params) != 1 || u.Params[0].Type != types.UpdateParamTypeAuthenticationMode || aws.ToString(u.Params[0].Value) != "API_AND_CONFIG_MAP" {
		t.Fatalf("update = %+v", u)
	}
	id := aws.ToString(u.Id)

	cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
	mustOK(t, err, "describe while updating")
	if cl.Cluster.Status != types.ClusterStatusUpdating || cl.Cluster.AccessConfig.AuthenticationMode != types.AuthenticationModeConfigMap {
		t.Fatalf("while updating: status %s mode %s", cl.Cluster.Status, cl.Cluster.AccessConfig.AuthenticationMode)
	}
	_, err = updateMode(c, testCluster, types.AuthenticationModeApi)
	wantErr[*types.ResourceInUseException](t, err, "in progress")
	_, err = c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster)})
	wantErr[*types.InvalidRequestException](t, err, "authentication mode of the cluster")

	waitForUpdate(t, c, testCluster, id)
	if d := time.Since(start); d < time.Second {
		t.Errorf("update finished after %s, before the configured 1s", d)
	}
	cl, err = c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
	mustOK(t, err, "describe after update")
	if cl.Cluster.Status != types.ClusterStatusActive || cl.Cluster.AccessConfig.AuthenticationMode != types.AuthenticationModeApiAndConfigMap {
		t.Fatalf("after update: status %s mode %s", cl.Cluster.Status, cl.Cluster.AccessConfig.AuthenticationMode)
	}
	// EKS bootstraps the creator's admin entry once the API is usable.
	_, err = c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(creator)})
	mustOK(t, err, "creator admin entry after the switch")

	for _, tt := range []struct {
		mode types.AuthenticationMode
		want string
	}{
		{types.AuthenticationModeApiAndConfigMap, "already has authentication mode API_AND_CONFIG_MAP"},
		{types.AuthenticationModeConfigMap, "Unsupported authentication mode update from API_AND_CONFIG_MAP to CONFIG_MAP"},
		{"OIDC", "is not valid"},
	} {
		_, err := updateMode(c, testCluster, tt.mode)
		wantErr[*types.InvalidParameterException](t, err, tt.want)
	}

	out, err = updateMode(c, testCluster, types.AuthenticationModeApi)
	mustOK(t, err, "update to API")
	waitForUpdate(t, c, testCluster, aws.ToString(out.Update.Id))
	_, err = updateMode(c, testCluster, types.AuthenticationModeApiAndConfigMap)
	wantErr[*types.InvalidParameterException](t, err, "Unsupported authentication mode update from API to API_AND_CONFIG_MAP")

	ids, err := c.ListUpdates(ctx, &eks.ListUpdatesInput{Name: aws.String(testCluster)})
	mustOK(t, err, "ListUpdates")
	if !slices.Equal(ids.UpdateIds, []string{id, aws.ToString(out.Update.Id)}) {
		t.Errorf("updates = %v", ids.UpdateIds)
	}
	page, err := c.ListUpdates(ctx, &eks.ListUpdatesInput{Name: aws.String(testCluster), MaxResults: aws.Int32(1)})
	mustOK(t, err, "ListUpdates page")
	if len(page.UpdateIds) != 1 || page.NextToken == nil {
		t.Errorf("first page = %v, token %v", page.UpdateIds, page.NextToken)
	}
	_, err = c.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String(testCluster), UpdateId: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, err, "No update found")
}

func TestAuthenticationModeConfigMapStraightToAPI(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster, AuthenticationMode: ModeConfigMap}}, UpdateDuration: 50 * time.Millisecond})
	c := eksClient(s)
	out, err := updateMode(c, testCluster, types.AuthenticationModeApi)
	mustOK(t, err, "CONFIG_MAP -> API")
	waitForUpdate(t, c, testCluster, aws.ToString(out.Update.Id))
	cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
	mustOK(t, err, "describe")
	if cl.Cluster.AccessConfig.AuthenticationMode != types.AuthenticationModeApi {
		t.Fatalf("mode = %s", cl.Cluster.AccessConfig.AuthenticationMode)
	}
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
}

func TestUpdateClusterConfigRetryWithSameToken(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster, AuthenticationMode: ModeConfigMap}}})
	c := eksClient(s)
	in := &eks.UpdateClusterConfigInput{
		Name: aws.String(testCluster), ClientRequestToken: aws.String("tok"),
		AccessConfig: &types.UpdateAccessConfigRequest{AuthenticationMode: types.AuthenticationModeApi},
	}
	first, err := c.UpdateClusterConfig(ctx, in)
	mustOK(t, err, "first")
	again, err := c.UpdateClusterConfig(ctx, in)
	mustOK(t, err, "retry with the same token")
	if aws.ToString(first.Update.Id) != aws.ToString(again.Update.Id) {
		t.Fatalf("retry started another update: %s vs %s", aws.ToString(first.Update.Id), aws.ToString(again.Update.Id))
	}
	_, err = c.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{
		Name: aws.String(testCluster), Logging: &types.Logging{},
	})
	wantErr[*types.InvalidParameterException](t, err, "supports only accessConfig")
}
