package accesspolicy

import (
	"slices"
	"testing"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// The catalogue holds every policy EKS lists (the emulator's list is the
// project's record of it), and nothing else.
func TestCatalogueCoversEveryPolicy(t *testing.T) {
	listed := eksemulator.AccessPolicyNames()
	for _, name := range listed {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s is an access policy EKS lists, and the catalogue does not say what it reaches", name)
		}
	}
	for name := range catalogue {
		if !slices.Contains(listed, name) {
			t.Errorf("%s is in the catalogue and not among the policies EKS lists", name)
		}
	}
}

func TestAdminEquivalent(t *testing.T) {
	want := []string{"AmazonEKSAdminPolicy", "AmazonEKSAdminViewPolicy", "AmazonEKSArgoCDPolicy", "AmazonEKSClusterAdminPolicy",
		"AmazonEKSEditPolicy", "AmazonEKSSecretAdminPolicy", "AmazonEKSSecretReaderPolicy", "AmazonEMRJobPolicy",
		"AmazonSagemakerHyperpodInferencePolicy", "AmazonSagemakerHyperpodTrainingPolicy"}
	if got := AdminEquivalent(); !slices.Equal(got, want) {
		t.Errorf("AdminEquivalent() = %v, want %v", got, want)
	}
	for _, c := range []struct {
		name  string
		admin bool
		why   string
	}{
		{"AmazonEKSClusterAdminPolicy", true, "every verb on every resource"},
		{"AmazonEKSAdminPolicy", true, "writes RBAC or impersonates, and writes Secrets"},
		{"AmazonEKSSecretReaderPolicy", true, "reads Secrets"},
		{"AmazonEKSViewPolicy", false, ""},
		{"AmazonSagemakerHyperpodTrainingPolicy", true, "creates pods, which reach every Secret and service account of their namespace"},
		{"AmazonEKSSecretAdminPolicy", true, "writes Secrets, judged from its name (AWS publishes no permissions for it)"},
		{"AmazonEKSPodIdentityPolicy", false, "not known: AWS publishes no permissions for it"},
		{"AmazonEKSFuturePolicy", false, "not known: a policy this version of the report does not know"},
	} {
		if admin, why := ReachOf(c.name); admin != c.admin || why != c.why {
			t.Errorf("ReachOf(%s) = %v, %q; want %v, %q", c.name, admin, why, c.admin, c.why)
		}
	}
	if !IsAdminEquivalentARN("arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSEditPolicy") || IsAdminEquivalentARN("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy") {
		t.Error("IsAdminEquivalentARN judges by the policy's name in any partition")
	}
}
