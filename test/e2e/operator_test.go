package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// operatorBinary builds the operator once for the package's tests, as the
// Dockerfile does (a static build), and returns its path.
func operatorBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "e2e-operator-"); binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "eks-access-operator"), ".")
		cmd.Dir = testenv.RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("%w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("building the operator: %v", binErr)
	}
	return filepath.Join(binDir, "eks-access-operator")
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// logHas reports whether the log file at path contains text.
func logHas(path, text string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(data), text)
}

// waitLog waits until the log file at path contains text and returns when it did.
func waitLog(t *testing.T, path, text string, timeout time.Duration) time.Time {
	t.Helper()
	testenv.Eventually(t, timeout, filepath.Base(path)+" to log "+text, func() (bool, string) {
		return logHas(path, text), ""
	})
	return time.Now()
}
