package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// ManagerRBAC is the RBAC the operator's install grants its manager, read from
// config/rbac: the ClusterRole generated from the +kubebuilder:rbac markers and
// the binding that gives it to the manager's ServiceAccount.
type ManagerRBAC struct {
	Role    *rbacv1.ClusterRole
	Binding *rbacv1.ClusterRoleBinding
	// ServiceAccount is the subject of the binding.
	ServiceAccount rbacv1.Subject
}

// ReadManagerRBAC reads config/rbac/role.yaml and config/rbac/role_binding.yaml,
// and checks that the binding gives that role to one ServiceAccount.
func ReadManagerRBAC() (*ManagerRBAC, error) {
	m := &ManagerRBAC{Role: &rbacv1.ClusterRole{}, Binding: &rbacv1.ClusterRoleBinding{}}
	for file, obj := range map[string]any{"role.yaml": m.Role, "role_binding.yaml": m.Binding} {
		data, err := os.ReadFile(filepath.Join(RepoRoot(), "config", "rbac", file))
		if err != nil {
			return nil, err
		}
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			return nil, fmt.Errorf("config/rbac/%s: %w", file, err)
		}
	}
	if ref := m.Binding.RoleRef; ref.Kind != "ClusterRole" || ref.Name != m.Role.Name {
		return nil, fmt.Errorf("config/rbac/role_binding.yaml binds %s %s, not the ClusterRole %s of role.yaml", ref.Kind, ref.Name, m.Role.Name)
	}
	if s := m.Binding.Subjects; len(s) != 1 || s[0].Kind != rbacv1.ServiceAccountKind {
		return nil, fmt.Errorf("config/rbac/role_binding.yaml: want one ServiceAccount subject, have %v", s)
	}
	m.ServiceAccount = m.Binding.Subjects[0]
	return m, nil
}

// Username is the name the API server gives the manager's ServiceAccount.
func (m *ManagerRBAC) Username() string {
	return "system:serviceaccount:" + m.ServiceAccount.Namespace + ":" + m.ServiceAccount.Name
}

// Groups are the groups of the manager's ServiceAccount (system:authenticated is
// added by the API server).
func (m *ManagerRBAC) Groups() []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + m.ServiceAccount.Namespace}
}

// ManagerConfig installs the manager's ClusterRole and ClusterRoleBinding from
// config/rbac with the admin config, and returns a rest.Config that authenticates
// as the ServiceAccount they are bound to (with a client certificate, which the
// API server maps to the same user and groups as the ServiceAccount's token). It
// has the permissions of the operator's install and nothing more; the rate limits
// are the admin config's.
func ManagerConfig(ctx context.Context, env *envtest.Environment, admin *rest.Config) (*rest.Config, *ManagerRBAC, error) {
	user, m, err := ManagerUser(ctx, env, admin)
	if err != nil {
		return nil, nil, err
	}
	return user.Config(), m, nil
}

// ManagerUser is ManagerConfig's user, whose KubeConfig a separate operator
// process can be given.
func ManagerUser(ctx context.Context, env *envtest.Environment, admin *rest.Config) (*envtest.AuthenticatedUser, *ManagerRBAC, error) {
	m, err := ReadManagerRBAC()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(admin, client.Options{})
	if err != nil {
		return nil, nil, err
	}
	for _, obj := range []client.Object{m.Role.DeepCopy(), m.Binding.DeepCopy()} {
		if err := c.Create(ctx, obj); err != nil {
			return nil, nil, fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	user, err := env.AddUser(envtest.User{Name: m.Username(), Groups: m.Groups()}, &rest.Config{QPS: admin.QPS, Burst: admin.Burst})
	if err != nil {
		return nil, nil, err
	}
	// The authorizer learns of new RBAC objects through a watch: wait until it
	// grants the role's first rule.
	rule := m.Role.Rules[0]
	attrs := &authorizationv1.ResourceAttributes{Verb: rule.Verbs[0], Group: rule.APIGroups[0], Resource: rule.Resources[0]}
	deadline := time.Now().Add(30 * time.Second)
	for {
		allowed, err := Allowed(ctx, c, m.Username(), m.Groups(), attrs)
		if err != nil {
			return nil, nil, err
		}
		if allowed {
			return user, m, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("the API server does not grant %s %+v after 30s", m.Username(), attrs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Allowed asks the API server, with a SubjectAccessReview, whether the user may
// do what attrs describe.
func Allowed(ctx context.Context, c client.Client, user string, groups []string, attrs *authorizationv1.ResourceAttributes) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: append([]string{"system:authenticated"}, groups...), ResourceAttributes: attrs,
	}}
	if err := c.Create(ctx, sar); err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}

// TenantVerbs are what a namespace's owners may do with its AccessEntries in a
// multi-tenant install: everything but write status, which is the operator's.
var TenantVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

// TenantRules are a tenant's in its namespaces: its AccessEntries, all but status.
var TenantRules = []rbacv1.PolicyRule{{APIGroups: []string{"eksaccess.io"}, Resources: []string{"accessentries"}, Verbs: TenantVerbs}}

// RequesterRules are those of a namespace's people who ask for and approve
// time-bound access: AccessRequests and AccessApprovals to read, make and
// withdraw (both kinds are immutable), and the namespace's AccessEntries as a tenant.
var RequesterRules = append([]rbacv1.PolicyRule{{APIGroups: []string{"eksaccess.io"},
	Resources: []string{"accessrequests", "accessapprovals"}, Verbs: []string{"get", "list", "watch", "create", "delete"}}}, TenantRules...)

// Person is a user of the API server: who the API server authenticates (a name
// and groups), and what a Role grants the user in each of Namespaces.
type Person struct {
	Name       string
	Groups     []string
	Rules      []rbacv1.PolicyRule
	Namespaces []string
}

// Add creates the person's Role and RoleBinding in each namespace (both named
// after the person; ones already there are kept), waits until the API server
// grants the first rule, and returns the user, whose Config has the admin
// config's rate limits.
func (p Person) Add(ctx context.Context, env *envtest.Environment, admin *rest.Config) (*envtest.AuthenticatedUser, error) {
	c, err := client.New(admin, client.Options{})
	if err != nil {
		return nil, err
	}
	for _, ns := range p.Namespaces {
		if err := p.bind(ctx, c, ns); err != nil {
			return nil, err
		}
	}
	return env.AddUser(envtest.User{Name: p.Name, Groups: p.Groups}, &rest.Config{QPS: admin.QPS, Burst: admin.Burst})
}

// bind grants the person its rules in ns, and waits until the authorizer, which
// learns of RBAC objects through a watch, grants the first of them.
func (p Person) bind(ctx context.Context, c client.Client, ns string) error {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: ns}, Rules: p.Rules}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: p.Name}}}
	for _, obj := range []client.Object{role, binding} {
		if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s/%s: %w", obj, ns, obj.GetName(), err)
		}
	}
	if len(p.Rules) == 0 {
		return nil
	}
	r := p.Rules[0]
	attrs := &authorizationv1.ResourceAttributes{Namespace: ns, Verb: r.Verbs[0], Group: r.APIGroups[0], Resource: r.Resources[0]}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ok, err := Allowed(ctx, c, p.Name, p.Groups, attrs); err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not grant %s %+v after 30s", p.Name, attrs)
		}
	}
}

// TenantConfig makes a user who may manage the AccessEntries of the given
// namespaces and nothing else, and returns a rest.Config that authenticates as
// that user.
func TenantConfig(ctx context.Context, env *envtest.Environment, admin *rest.Config, user string, namespaces ...string) (*rest.Config, error) {
	u, err := Person{Name: user, Rules: TenantRules, Namespaces: namespaces}.Add(ctx, env, admin)
	if err != nil {
		return nil, err
	}
	return u.Config(), nil
}
