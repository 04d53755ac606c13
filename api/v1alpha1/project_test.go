package v1alpha1_test

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// TestProjectListsEveryKind: the kubebuilder CLI reads PROJECT to scaffold into
// this repository, so it must name every kind the API registers.
func TestProjectListsEveryKind(t *testing.T) {
	data, err := os.ReadFile("../../PROJECT")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^\s+kind: (\w+)$`).FindAllStringSubmatch(string(data), -1) {
		listed = append(listed, m[1])
	}
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for kind := range scheme.KnownTypes(v1.GroupVersion) {
		if strings.HasSuffix(kind, "List") || strings.HasSuffix(kind, "Options") || strings.HasSuffix(kind, "Event") {
			continue
		}
		if !slices.Contains(listed, kind) {
			t.Errorf("PROJECT does not list kind %s (it lists %v)", kind, listed)
		}
	}
}

// TestTagLimitsMatchTheCRD: spec.tags may hold what EKS allows less the ownership
// tags, and the generated CRD says the same.
func TestTagLimitsMatchTheCRD(t *testing.T) {
	data, err := os.ReadFile("../../config/crd/bases/eksaccess.io_accessentries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`maxProperties: (\d+)`).FindStringSubmatch(string(data))
	if m == nil || m[1] != strconv.Itoa(v1.MaxSpecTags) || v1.MaxSpecTags != v1.MaxEntryTags-v1.ReservedTagCount {
		t.Fatalf("the CRD's spec.tags maxProperties is %v; MaxSpecTags is %d (%d - %d)", m, v1.MaxSpecTags, v1.MaxEntryTags, v1.ReservedTagCount)
	}
}
