package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// WriteKubeconfig writes an admin kubeconfig for the control plane into dir.
func WriteKubeconfig(env *envtest.Environment, dir string) (string, error) {
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// writeManagerKubeconfig installs the manager's RBAC and writes a kubeconfig that
// authenticates as its ServiceAccount.
func writeManagerKubeconfig(env *envtest.Environment, admin *rest.Config, dir string) (string, error) {
	user, _, err := ManagerUser(context.Background(), env, admin)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig-manager")
	return path, os.WriteFile(path, data, 0o600)
}

// Operator is the operator binary running as its own process, as in production.
type Operator struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
}

// StartOperator runs the operator binary with args, AWS credentials for the EKS
// emulator, and its output in logPath.
func StartOperator(bin string, args []string, logPath string) (*Operator, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=emulator", "AWS_SECRET_ACCESS_KEY=emulator")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (run 'make build' first): %w", bin, err)
	}
	op := &Operator{cmd: cmd, exited: make(chan struct{}), logFile: logFile}
	go func() { _ = cmd.Wait(); close(op.exited) }()
	return op, nil
}

// PID is the operator's process ID.
func (o *Operator) PID() int { return o.cmd.Process.Pid }

// Kill SIGKILLs the operator, as a node failure or an OOM kill would, and waits for it.
func (o *Operator) Kill() {
	_ = o.cmd.Process.Kill()
	<-o.exited
	o.logFile.Close()
}

// Stop asks the operator to stop, kills it after 10s, and waits for it.
func (o *Operator) Stop() {
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.exited:
	case <-time.After(10 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.exited
	}
	o.logFile.Close()
}
