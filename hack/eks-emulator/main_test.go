package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

func TestListAccessPoliciesFlagPrintsTheCatalogue(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-list-access-policies"}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, errOut.String())
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if want := eksemulator.AccessPolicyNames(); !slices.Equal(got, want) {
		t.Fatalf("printed %q, want %q", got, want)
	}
}
