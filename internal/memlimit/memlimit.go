// Package memlimit sets the Go runtime's soft memory limit from the container's
// cgroup memory limit, so that the garbage collector works harder as the
// operator nears it instead of letting the heap double past it.
package memlimit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Share is the part of the container's limit the Go runtime aims to stay under:
// the rest is for memory the runtime does not count (stacks' slack, the binary).
const Share = 0.9

// Set applies the limit the flag names, else Share of the cgroup's limit, and
// returns it with where it came from; 0 when there is none to apply ($GOMEMLIMIT
// set, which the runtime already follows, or no cgroup limit).
func Set(flagValue, cgroupRoot string) (int64, string, error) {
	limit, source, err := Decide(flagValue, os.Getenv("GOMEMLIMIT"), cgroupRoot)
	if err != nil || limit == 0 {
		return 0, source, err
	}
	debug.SetMemoryLimit(limit)
	return limit, source, nil
}

// Decide is the limit to set: the flag (a quantity such as 100Mi or 100MiB),
// else nothing when $GOMEMLIMIT is set, else Share of the cgroup v2 memory.max
// or cgroup v1 memory.limit_in_bytes under cgroupRoot.
func Decide(flagValue, envValue, cgroupRoot string) (int64, string, error) {
	if flagValue != "" {
		q, err := resource.ParseQuantity(strings.TrimSuffix(strings.TrimSuffix(flagValue, "B"), "b"))
		if err != nil || q.Value() <= 0 {
			return 0, "", fmt.Errorf("--memory-limit %q is not a positive quantity such as 100Mi", flagValue)
		}
		return q.Value(), "--memory-limit", nil
	}
	if envValue != "" {
		return 0, "$GOMEMLIMIT", nil
	}
	limit, err := cgroupLimit(cgroupRoot)
	if err != nil || limit == 0 {
		return 0, "no cgroup limit", nil
	}
	return int64(float64(limit) * Share), "cgroup memory limit", nil
}

// cgroupLimit reads the memory limit of the cgroup the process is in: 0 when
// there is none ("max", or v1's huge number for no limit).
func cgroupLimit(root string) (int64, error) {
	for _, name := range []string{"memory.max", "memory/memory.limit_in_bytes", "memory.limit_in_bytes"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(data))
		if s == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", name, err)
		}
		if n <= 0 || n >= 1<<60 {
			return 0, nil
		}
		return n, nil
	}
	return 0, errors.New("no cgroup memory limit file")
}
