package awsapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// Two targets of one account (the own credentials and a role of the account)
// share the account's pace: the emulator, enforcing the same rate, throttles
// none of their calls, and they take as long as the rate says.
func TestReaderPacesEachAccount(t *testing.T) {
	emu := newEmulator(t, eksemulator.ModeAPI)
	emu.SetFaults(eksemulator.Faults{RateLimit: 20, Burst: 5})
	url := serve(t, emu)
	r := NewReader(awsConfig(), ReaderOptions{Endpoint: url, STSEndpoint: url, QPS: 20, Burst: 5})
	own, viaRole := r.For(Target{Region: region}, account), r.For(Target{Region: region, RoleARN: roleARN("auditor")}, account)
	const calls = 45
	start := time.Now()
	var wg sync.WaitGroup
	for i := range calls {
		e := own
		if i%2 == 1 {
			e = viaRole
		}
		wg.Go(func() {
			if _, err := e.ListHolders(context.Background(), "demo", ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if min := time.Duration(float64(calls-5) / 20 * float64(time.Second)); elapsed < min*9/10 {
		t.Errorf("%d calls took %s; at 20 a second after a burst of 5 they take about %s", calls, elapsed.Round(time.Millisecond), min)
	}
	// The two buckets, ours and the emulator's, start a moment apart: a call or
	// two may meet an empty one. Paced apart, the targets would meet it about 20 times.
	throttled := emu.Calls()["ListAccessEntries"]["ThrottlingException"]
	if throttled > 2 {
		t.Errorf("the emulator throttled %d calls: the two targets were not paced together", throttled)
	}
	var n int64
	for _, c := range r.Calls() {
		n += c
	}
	if n != int64(calls+throttled) {
		t.Errorf("Calls() counts %d attempts, want %d (and %d retried)", n, calls, throttled)
	}
}
