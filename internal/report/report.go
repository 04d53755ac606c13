// Package report builds the access report: one row per access entry and access
// policy of every cluster, where each comes from (an AccessEntry, EKS itself, or
// nothing), whether it matches its declaration, and whether it is
// admin-equivalent. It reads EKS (through awsapi.Reader, paced per account) and
// the operator's objects it is given, and writes nothing.
//
// The default report is cheap: the holders of the admin-equivalent policies come
// from ListAccessEntries filtered by policy (one call per 100 holders), the
// AccessEntries' rows from the operator's status where it is fresh and agrees with
// those listings, and other entries no AccessEntry declares from the
// ClusterAccessConfig's status. Only what none of these answers is read in full.
// Live reads every entry of every cluster.
package report

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
)

// Origin says where an entry comes from.
type Origin string

const (
	// Declared: an AccessEntry declares it.
	Declared Origin = "AccessEntry"
	// MadeByEKS: EKS made it itself (nodes, the cluster's creator, its components).
	MadeByEKS Origin = "EKS"
	// Unmanaged: nothing declares it; someone made it by hand or with another tool.
	Unmanaged Origin = "Unmanaged"
)

// Whether a row matches its declaration.
const (
	Matches = "yes"
	Drifted = "drifted"
	// Pending: declared, and EKS does not hold it (not made yet, refused, or in
	// conflict with another object).
	Pending = "pending"
)

// Where a row was read.
const (
	FromStatus       = "operator"      // an AccessEntry's status, verified at SeenAt
	FromConfigStatus = "operator-list" // the ClusterAccessConfig's list of unmanaged entries
	FromEKS          = "eks"           // read from EKS by the report
	FromSpec         = "spec"          // a declaration EKS does not hold
)

// Row is one access policy of one entry (or the entry alone when it holds none).
type Row struct {
	Cluster   string   `json:"cluster"`
	Account   string   `json:"account"`
	Region    string   `json:"region"`
	Principal string   `json:"principal"`
	Type      string   `json:"type,omitempty"`
	Username  string   `json:"username,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	// Policy is the access policy's name; PolicyARN its ARN.
	Policy    string `json:"policy,omitempty"`
	PolicyARN string `json:"policyARN,omitempty"`
	// Scope is "cluster" or "namespace:" and the namespaces.
	Scope  string `json:"scope,omitempty"`
	Origin Origin `json:"origin"`
	// Object is the declaring AccessEntry, namespace/name.
	Object string `json:"object,omitempty"`
	// Why says what shows EKS made the entry, or what the operator does with an
	// unmanaged one.
	Why string `json:"why,omitempty"`
	// Matches is yes, drifted or pending for a declared entry; empty otherwise.
	Matches string `json:"matches,omitempty"`
	// Drift says what differs from the declaration.
	Drift string `json:"drift,omitempty"`
	// Admin: the policy is admin-equivalent (AdminWhy says what it reaches).
	Admin    bool   `json:"adminEquivalent"`
	AdminWhy string `json:"adminWhy,omitempty"`
	// Until is when a time-bound grant ends.
	Until  *time.Time `json:"until,omitempty"`
	Source string     `json:"source"`
	// SeenAt is when what the row says was read from EKS.
	SeenAt *time.Time `json:"seenAt,omitempty"`
}

// Cluster is a cluster to report on, and how to reach it.
type Cluster struct {
	Name, Region, Account string
	Target                awsapi.Target
	// Config is the cluster's ClusterAccessConfig; nil for a cluster named on the
	// command line that none configures.
	Config *v1.ClusterAccessConfig
}

// Options say how the report reads.
type Options struct {
	// Live reads every entry from EKS instead of the operator's status.
	Live bool
	// MaxAge is how old an AccessEntry's last verification may be for its status
	// to stand in for EKS.
	MaxAge time.Duration
	// Workers is how many clusters are read at once (default 16).
	Workers int
	// Progress, when set, receives a line per cluster read.
	Progress io.Writer
	Now      func() time.Time
}

// ClusterError is a cluster the report could not read.
type ClusterError struct {
	Cluster, Region, Account string
	Err                      error
}

func (e ClusterError) Error() string {
	return fmt.Sprintf("cluster %s (%s, account %s): %v", e.Cluster, e.Region, e.Account, e.Err)
}

// Report is what Build found.
type Report struct {
	Rows []Row
	// Failed are the clusters that could not be read: their rows are missing.
	Failed []ClusterError
	// Notes say what the report could not see, for standard error.
	Notes []string
}

// Build reads every cluster and returns its rows, sorted by account, region,
// cluster, principal and policy.
// objects are the AccessEntries of every namespace.
func Build(ctx context.Context, r *awsapi.Reader, clusters []Cluster, objects []v1.AccessEntry, o Options) *Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	var (
		mu   sync.Mutex
		rep  = &Report{}
		done int
		next = make(chan Cluster)
		wg   sync.WaitGroup
	)
	for range min(o.Workers, max(len(clusters), 1)) {
		wg.Go(func() {
			for c := range next {
				rows, notes, err := readCluster(ctx, r, c, declaredIn(c, objects), o)
				mu.Lock()
				rep.Rows = append(rep.Rows, rows...)
				rep.Notes = append(rep.Notes, notes...)
				if err != nil {
					rep.Failed = append(rep.Failed, ClusterError{Cluster: c.Name, Region: c.Region, Account: c.Account, Err: err})
				}
				done++
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "report: %d/%d clusters read (%s in %s)\n", done, len(clusters), c.Name, c.Region)
				}
				mu.Unlock()
			}
		})
	}
	for _, c := range clusters {
		next <- c
	}
	close(next)
	wg.Wait()
	slices.SortStableFunc(rep.Rows, compareRows)
	slices.SortFunc(rep.Failed, func(a, b ClusterError) int { return strings.Compare(a.Cluster+a.Region, b.Cluster+b.Region) })
	slices.Sort(rep.Notes)
	rep.Notes = slices.Compact(rep.Notes)
	return rep
}

func compareRows(a, b Row) int {
	for _, p := range [][2]string{{a.Account, b.Account}, {a.Region, b.Region}, {a.Cluster, b.Cluster}, {a.Principal, b.Principal}, {a.Policy, b.Policy}} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

// declaredIn are the AccessEntries that name the cluster: by the identity their
// status records (its account too), else by their spec (a region left out
// matches any).
func declaredIn(c Cluster, objects []v1.AccessEntry) []*v1.AccessEntry {
	var out []*v1.AccessEntry
	for i := range objects {
		ae := &objects[i]
		name, region, account := ae.Spec.ClusterName, ae.Spec.Region, ""
		if id := ae.Status.Identity; id != nil {
			name, region, account = id.ClusterName, id.Region, id.Account
		}
		if name == c.Name && (region == "" || region == c.Region) && (account == "" || c.Account == "" || account == c.Account) {
			out = append(out, ae)
		}
	}
	return out
}
