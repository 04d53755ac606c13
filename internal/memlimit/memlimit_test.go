package memlimit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDecide(t *testing.T) {
	v2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(v2, "memory.max"), []byte("268435456\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlimited := t.TempDir()
	if err := os.WriteFile(filepath.Join(unlimited, "memory.max"), []byte("max\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v1 := t.TempDir()
	if err := os.MkdirAll(filepath.Join(v1, "memory"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v1, "memory", "memory.limit_in_bytes"), []byte("134217728\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, flag, env, root string
		want                  int64
		wantErr               bool
	}{
		{name: "flag in Mi", flag: "100Mi", root: v2, want: 100 << 20},
		{name: "flag in MiB", flag: "100MiB", root: v2, want: 100 << 20},
		{name: "flag wins over env", flag: "64Mi", env: "1GiB", root: v2, want: 64 << 20},
		{name: "bad flag", flag: "lots", root: v2, wantErr: true},
		{name: "negative flag", flag: "-5Mi", root: v2, wantErr: true},
		{name: "env left to the runtime", env: "200MiB", root: v2, want: 0},
		{name: "cgroup v2", root: v2, want: 241591910},
		{name: "cgroup v1", root: v1, want: 120795955},
		{name: "no limit", root: unlimited, want: 0},
		{name: "no cgroup", root: t.TempDir(), want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := Decide(tc.flag, tc.env, tc.root)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
}
