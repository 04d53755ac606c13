package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

func TestListAccessPoliciesFlagPrintsTheCatalogue(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-list-access-policies"}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, errOut.String())
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if want := eksemulator.AccessPolicyNames(); !slices.Equal(got, want) {
		t.Fatalf("printed %q, want %q", got, want)
	}
}

func TestUsageShowsTheEventsFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d for -h", code)
	}
	for _, want := range []string{"SQS", "-events-queue", "-events-delay", "-events-max-extra-delay", "-events-loss", "-events-duplicates", "/_emulator/events"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("usage does not mention %q", want)
		}
	}
}

func TestEventsFlagsAreChecked(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"loss above 1":         {[]string{"--events-queue", "q", "--events-loss", "1.5"}, "events: loss 1.5 must be between 0 and 1"},
		"a delay and no queue": {[]string{"--events-delay", "1s"}, "need a queue"},
		"a FIFO queue":         {[]string{"--events-queue", "q.fifo"}, "FIFO queues are not emulated"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(append(tt.args, "--listen", "127.0.0.1:0"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("exit code %d, stderr %q; want 1 and a message with %q", code, errOut.String(), tt.want)
			}
		})
	}
}
