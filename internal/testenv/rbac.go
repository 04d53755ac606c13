package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
			return user.Config(), m, nil
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
