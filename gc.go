package main

import (
	"os"
	"runtime/debug"
)

// gcPercent is the Go collector's pace when $GOGC is not set: a collection each time
// the heap grows by half of what was live after the last one, where Go's default of
// 100 lets it double. The operator allocates little once its objects are cached (a
// reconcile, a sweep, a scrape), so the extra collections cost little CPU, while
// the doubling was a quarter of its written memory at 200 entries. --memory-limit
// (or the cgroup's limit) still bounds the heap as it nears the limit; $GOGC, when
// set, wins.
const gcPercent = 50

func init() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
