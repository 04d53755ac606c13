package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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

// TenantConfig makes a user who may manage the AccessEntries of the given
// namespaces and nothing else (a Role and a RoleBinding in each), and returns a
// rest.Config that authenticates as that user.
func TenantConfig(ctx context.Context, env *envtest.Environment, admin *rest.Config, user string, namespaces ...string) (*rest.Config, error) {
	c, err := client.New(admin, client.Options{})
	if err != nil {
		return nil, err
	}
	for _, ns := range namespaces {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user + "-accessentries", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"eksaccess.io"}, Resources: []string{"accessentries"}, Verbs: TenantVerbs}}}
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-accessentries", Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
		for _, obj := range []client.Object{role, binding} {
			if err := c.Create(ctx, obj); err != nil {
				return nil, fmt.Errorf("creating %T %s/%s: %w", obj, ns, obj.GetName(), err)
			}
		}
		attrs := &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Group: "eksaccess.io", Resource: "accessentries"}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if ok, err := Allowed(ctx, c, user, nil, attrs); err != nil || ok {
				if err != nil {
					return nil, err
				}
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("the API server does not grant %s %+v after 30s", user, attrs)
			}
		}
	}
	authn, err := env.AddUser(envtest.User{Name: user}, &rest.Config{QPS: admin.QPS, Burst: admin.Burst})
	if err != nil {
		return nil, err
	}
	return authn.Config(), nil
}
