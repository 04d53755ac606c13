package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestGCPercentDefault(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("$GOGC is set, and wins")
	}
	got := debug.SetGCPercent(100)
	debug.SetGCPercent(got)
	if got != gcPercent {
		t.Errorf("GC percent %d without $GOGC, want %d", got, gcPercent)
	}
}
