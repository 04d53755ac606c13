package awsapi

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Workers that ask at once for the operator's own account in a region share one
// STS call, and the answer is kept: at start-up every worker asks together, and
// each GetCallerIdentity counts against STS's quota. Another region asks again.
func TestAccountLookupsShareOneCall(t *testing.T) {
	ctx := context.Background()
	emu := newEmulator(t, "API")
	// STS answers nothing until every worker has had time to ask: without
	// sharing, each would have sent a call of its own by then.
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	c := newClients(t, serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-release
		emu.Handler().ServeHTTP(w, r)
	})))
	calls := func() int { return emu.Calls()["GetCallerIdentity"]["OK"] }

	const workers = 32
	var (
		wg       sync.WaitGroup
		accounts [workers]string
		errs     [workers]error
	)
	for i := range workers {
		wg.Go(func() { accounts[i], _, errs[i] = c.Account(ctx, Target{Region: region}) })
	}
	<-arrived
	time.Sleep(250 * time.Millisecond)
	close(release)
	wg.Wait()
	for i := range workers {
		if errs[i] != nil || accounts[i] != account {
			t.Fatalf("worker %d: account %q (%v), want %s", i, accounts[i], errs[i], account)
		}
	}
	if n := calls(); n != 1 {
		t.Fatalf("%d workers asking at once made %d GetCallerIdentity calls, want 1", workers, n)
	}

	if got, partition, err := c.Account(ctx, Target{Region: region}); err != nil || got != account || partition != "aws" {
		t.Fatalf("asked again: %q %q %v", got, partition, err)
	}
	if n := calls(); n != 1 {
		t.Fatalf("asking again for %s made a call: %d in all", region, n)
	}
	if got, _, err := c.Account(ctx, Target{Region: "eu-west-1"}); err != nil || got != account {
		t.Fatalf("eu-west-1: %q %v", got, err)
	}
	if n := calls(); n != 2 {
		t.Fatalf("%d GetCallerIdentity calls after asking in eu-west-1 too, want 2", n)
	}
}
