package controllers

import (
	"strings"
	"testing"
	"time"
)

// TestEventsPeriodsNotShorter: an events period shorter than the no-events
// period it replaces is refused, naming both flags; the defaults and equal
// periods are accepted.
func TestEventsPeriodsNotShorter(t *testing.T) {
	sweeps := DefaultSweepOptions()
	if err := sweeps.Validate(); err != nil {
		t.Fatalf("the default sweep options: %v", err)
	}
	sweeps.EventsPeriod, sweeps.EventsWatchedPeriod = sweeps.Period, sweeps.WatchedPeriod
	if err := sweeps.Validate(); err != nil {
		t.Fatalf("events periods equal to the others: %v", err)
	}
	sweeps.EventsPeriod, sweeps.EventsWatchedPeriod = sweeps.Period-time.Second, sweeps.WatchedPeriod-time.Second
	err := sweeps.Validate()
	for _, want := range []string{"--events-sweep-period is 49s, shorter than --sweep-period (50s)", "--events-watched-sweep-period", "--watched-sweep-period ("} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("shorter events sweep periods: error %v, want it to say %q", err, want)
		}
	}

	entries := DefaultEntryOptions()
	entries.InstanceID, entries.TrustedNamespaces = "test", []string{"eks-access-system"}
	if err := entries.Validate(); err != nil {
		t.Fatalf("the default entry options: %v", err)
	}
	entries.EventsVerifyPeriod = 10 * time.Minute
	if err := entries.Validate(); err == nil || !strings.Contains(err.Error(), "--events-verification-period is 10m0s, shorter than --verification-period (1h0m0s)") {
		t.Errorf("a shorter events verification period: error %v", err)
	}
}
