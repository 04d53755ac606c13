package report

import (
	"fmt"
	"slices"
	"strings"
)

// Filter keeps the rows a reader asked for.
type Filter struct {
	// Admin keeps admin-equivalent rows only.
	Admin bool
	// Unmanaged keeps the rows of entries nothing declares and EKS did not make.
	Unmanaged bool
	// Clusters and Accounts, when set, keep those clusters' and accounts' rows.
	Clusters, Accounts []string
}

// Keep reports whether a row passes the filter.
func (f Filter) Keep(r Row) bool {
	return (!f.Admin || r.Admin) && (!f.Unmanaged || r.Origin == Unmanaged) &&
		(len(f.Clusters) == 0 || slices.Contains(f.Clusters, r.Cluster)) &&
		(len(f.Accounts) == 0 || slices.Contains(f.Accounts, r.Account))
}

// Apply returns the rows that pass.
func (f Filter) Apply(rows []Row) []Row {
	var out []Row
	for _, r := range rows {
		if f.Keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Conditions --fail-on takes.
const (
	// FailUnmanagedAdmin: an admin-equivalent policy on an entry nothing declares
	// and EKS did not make.
	FailUnmanagedAdmin = "unmanaged-admin"
	// FailUndeclaredAdmin: an admin-equivalent policy no AccessEntry declares,
	// EKS's own entries (such as the cluster creator's) included.
	FailUndeclaredAdmin = "undeclared-admin"
	// FailDrift: a declared entry that differs from its declaration.
	FailDrift = "drift"
)

// FailConditions are the values --fail-on takes.
var FailConditions = []string{FailUnmanagedAdmin, FailUndeclaredAdmin, FailDrift}

// ParseFailOn reads a comma-separated list of conditions.
func ParseFailOn(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if !slices.Contains(FailConditions, c) {
			return nil, fmt.Errorf("--fail-on: unknown condition %q: use %s, comma-separated", c, strings.Join(FailConditions, ", "))
		}
		out = append(out, c)
	}
	return out, nil
}

// Findings are the rows that meet a condition, each said in a line.
func Findings(rows []Row, conditions []string) []string {
	var out []string
	for _, r := range rows {
		for _, c := range conditions {
			if meets(r, c) {
				out = append(out, fmt.Sprintf("%s: %s holds %s on cluster %s (%s, account %s)%s", c, r.Principal, orNone(r.Policy), r.Cluster, r.Region, r.Account, findingDetail(r)))
			}
		}
	}
	return out
}

func meets(r Row, condition string) bool {
	switch condition {
	case FailUnmanagedAdmin:
		return r.Admin && r.Origin == Unmanaged
	case FailUndeclaredAdmin:
		return r.Admin && r.Origin != Declared
	case FailDrift:
		return r.Matches == Drifted
	}
	return false
}

func findingDetail(r Row) string {
	if d := detail(r); d != "" {
		return ": " + d
	}
	return ""
}
