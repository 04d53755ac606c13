package testenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// WorldOptions says what a World runs.
type WorldOptions struct {
	Emulator eksemulator.Config
	// Operator is the operator binary, relative to the repository root unless absolute.
	Operator string
	// WorkDir, which must exist, receives the kubeconfig and operator.log.
	WorkDir string
	Region  string
	// OperatorArgs are the operator's flags beyond the endpoints, region,
	// kubeconfig and listen addresses the World sets.
	OperatorArgs []string
	// MetricsAddr is where the operator serves metrics; empty turns them off.
	MetricsAddr string
	// ClientTimeout bounds each request of Client; zero means no bound.
	ClientTimeout time.Duration
	// Stopping, when set, is told about each part ("the operator") before Stop stops it.
	Stopping func(part string)
	// AsManager runs the operator as the manager's ServiceAccount with the RBAC of
	// config/rbac (ManagerUser), not as a cluster admin: admission policies that
	// single out the operator's identity then apply to it as installed.
	AsManager bool
}

// World is what the developer tools run against: etcd and kube-apiserver, the EKS
// emulator, and the operator binary as its own process, pointed at both.
type World struct {
	Env         *envtest.Environment
	Config      *rest.Config
	Kubeconfig  string
	Emulator    *eksemulator.Server
	Client      client.Client
	OperatorLog string

	opts      WorldOptions
	operator  *Operator
	apiServer *exec.Cmd // the kube-apiserver RestartAPIServer started, which envtest does not know
}

// NewWorld starts the control plane and the emulator; the operator waits for
// StartOperator, so that a caller can seed EKS first. On an error it stops what it started.
func NewWorld(opts WorldOptions) (*World, error) {
	w := &World{opts: opts, OperatorLog: filepath.Join(opts.WorkDir, "operator.log")}
	if err := w.start(); err != nil {
		w.Stop()
		return nil, err
	}
	// StartOperator appends, and a reused WorkDir must show this run only.
	_ = os.Remove(w.OperatorLog)
	return w, nil
}

func (w *World) start() error {
	var err error
	if w.Env, w.Config, err = Start(); err != nil {
		return err
	}
	if w.Kubeconfig, err = WriteKubeconfig(w.Env, w.opts.WorkDir); err != nil {
		return err
	}
	if w.opts.AsManager {
		if w.Kubeconfig, err = writeManagerKubeconfig(w.Env, w.Config, w.opts.WorkDir); err != nil {
			return err
		}
	}
	if w.Client, err = newClient(w.Config, w.opts.ClientTimeout); err != nil {
		return err
	}
	if w.Emulator, err = eksemulator.New(w.opts.Emulator); err != nil {
		return err
	}
	return w.Emulator.Start("127.0.0.1:0")
}

// newClient builds a client for AccessEntries and the built-in types, with
// limits high enough that the client never slows down what a tool measures.
func newClient(cfg *rest.Config, timeout time.Duration) (client.Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst, cfg.Timeout = 500, 1000, timeout
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// operatorArgs always sets the listen addresses: the operator's defaults, :8080
// and :8081, clash with anything else on the machine, a second tool included.
func operatorArgs(kubeconfig, emulatorURL string, opts WorldOptions) []string {
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--eks-endpoint=" + emulatorURL,
		"--sts-endpoint=" + emulatorURL,
		"--iam-endpoint=" + emulatorURL,
		"--region=" + opts.Region,
		"--metrics-bind-address=" + cmp.Or(opts.MetricsAddr, "0"),
		"--health-probe-bind-address=0",
	}
	return append(args, opts.OperatorArgs...)
}

// StartOperator runs the operator, logging to OperatorLog (appended to across
// restarts). extra flags go after the World's, and so win over them.
func (w *World) StartOperator(extra ...string) error {
	if w.operator != nil {
		return errors.New("the operator is already running")
	}
	bin := w.opts.Operator
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(RepoRoot(), bin)
	}
	op, err := StartOperator(bin, append(operatorArgs(w.Kubeconfig, w.Emulator.URL(), w.opts), extra...), w.OperatorLog)
	if err != nil {
		return err
	}
	w.operator = op
	return nil
}

// StartReplica runs one more operator process with the same flags as StartOperator,
// logging to operator-NAME.log in WorkDir: with --leader-elect in OperatorArgs, two
// replicas elect a leader as two pods would. The caller stops it.
func (w *World) StartReplica(name string) (*Operator, string, error) {
	bin := w.opts.Operator
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(RepoRoot(), bin)
	}
	logPath := filepath.Join(w.opts.WorkDir, "operator-"+name+".log")
	op, err := StartOperator(bin, operatorArgs(w.Kubeconfig, w.Emulator.URL(), w.opts), logPath)
	return op, logPath, err
}

// StopOperator stops the operator gracefully (SIGTERM) and waits for it.
func (w *World) StopOperator() {
	if w.operator != nil {
		w.operator.Stop()
		w.operator = nil
	}
}

// OperatorPID is the running operator's process ID; 0 when none runs.
func (w *World) OperatorPID() int {
	if w.operator == nil {
		return 0
	}
	return w.operator.PID()
}

// KillOperator SIGKILLs the operator, as a node failure or an OOM kill would.
func (w *World) KillOperator() {
	if w.operator != nil {
		w.operator.Kill()
		w.operator = nil
	}
}

// Stop stops the operator, the emulator and the control plane, in that order.
func (w *World) Stop() {
	if w.operator != nil {
		w.stopping("the operator")
		w.StopOperator()
	}
	if w.Emulator != nil {
		w.stopping("the EKS emulator")
		_ = w.Emulator.Close()
		w.Emulator = nil
	}
	if w.Env != nil {
		w.stopping("etcd and kube-apiserver")
		if w.apiServer != nil {
			_ = w.apiServer.Process.Signal(syscall.SIGTERM)
			_ = w.apiServer.Wait()
			w.apiServer = nil
		}
		_ = w.Env.Stop()
		w.Env = nil
	}
}

func (w *World) stopping(part string) {
	if w.opts.Stopping != nil {
		w.opts.Stopping(part)
	}
}

// RestartAPIServer stops kube-apiserver and starts it again with the same
// arguments, certificates and etcd, then waits until it serves AccessEntries. The
// same command line keeps the port and certificates that Config and Kubeconfig name.
func (w *World) RestartAPIServer() error {
	pid, args, err := findChild("kube-apiserver")
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	waitExited(pid, 30*time.Second)
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		return err
	}
	w.apiServer = cmd
	for range 600 {
		if err := w.Client.List(context.Background(), &v1.AccessEntryList{}, client.Limit(1)); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("kube-apiserver did not come back within 60s")
}

// waitExited waits until process pid is gone or a zombie: envtest, its parent,
// reaps it only when stopped.
func waitExited(pid int, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(data), ") Z ") {
			return
		}
	}
}

// findChild finds a child process of this one by its command name.
func findChild(name string) (int, []string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		if !strings.Contains(s, "("+name+")") {
			continue
		}
		fields := strings.Fields(s[strings.LastIndex(s, ")")+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return 0, nil, err
		}
		return pid, strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"), nil
	}
	return 0, nil, fmt.Errorf("no %s child process", name)
}
