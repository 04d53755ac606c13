package eksemulator

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"
)

// Faults are the misbehaviour settings that can change while the server runs.
// Zero values switch each one off.
type Faults struct {
	RateLimit         float64       `json:"rateLimit"` // requests/s per account; 0 = unlimited
	Burst             int           `json:"burst"`     // token bucket size; 0 = ceil(RateLimit)
	Latency           time.Duration `json:"latency"`
	MaxJitter         time.Duration `json:"maxJitter"`
	FaultRate         float64       `json:"faultRate"` // 0..1
	ConsistencyDelay  time.Duration `json:"consistencyDelay"`
	ConsistencyRandom bool          `json:"consistencyRandom"`
	// Throttled are accounts every EKS call of which is answered 429
	// ThrottlingException, as in a throttling storm; other accounts are served.
	Throttled []string `json:"throttled,omitempty"`
}

func faultsOf(cfg Config) Faults {
	return Faults{
		RateLimit:         cfg.RateLimit,
		Burst:             cfg.Burst,
		Latency:           cfg.Latency,
		MaxJitter:         cfg.MaxJitter,
		FaultRate:         cfg.FaultRate,
		ConsistencyDelay:  cfg.ConsistencyDelay,
		ConsistencyRandom: cfg.ConsistencyRandom,
		Throttled:         slices.Clone(cfg.Throttled),
	}
}

func checkFaults(f Faults) (Faults, error) {
	switch {
	case f.RateLimit < 0 || math.IsNaN(f.RateLimit) || math.IsInf(f.RateLimit, 0):
		return f, fmt.Errorf("rate limit %v must be a finite number >= 0", f.RateLimit)
	case f.Burst < 0:
		return f, fmt.Errorf("burst %d must be >= 0", f.Burst)
	case f.Latency < 0 || f.MaxJitter < 0 || f.ConsistencyDelay < 0:
		return f, fmt.Errorf("latency, jitter and consistency delay must not be negative")
	case !(f.FaultRate >= 0 && f.FaultRate <= 1):
		return f, fmt.Errorf("fault rate %v must be between 0 and 1", f.FaultRate)
	}
	return f, nil
}

// clampFaults makes any Faults value usable, for SetFaults which cannot fail.
func clampFaults(f Faults) Faults {
	if !(f.RateLimit > 0) || math.IsInf(f.RateLimit, 0) {
		f.RateLimit = 0
	}
	f.Burst = max(f.Burst, 0)
	f.Latency = max(f.Latency, 0)
	f.MaxJitter = max(f.MaxJitter, 0)
	f.ConsistencyDelay = max(f.ConsistencyDelay, 0)
	if !(f.FaultRate > 0) {
		f.FaultRate = 0
	}
	f.FaultRate = min(f.FaultRate, 1)
	return f
}

// Faults returns the current misbehaviour settings.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces all misbehaviour settings at once (a zero field switches
// that behaviour off). Out-of-range values are clamped. Token buckets restart
// full, so a new rate limit applies from a clean slate.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = clampFaults(f)
	s.buckets = map[string]*bucket{}
}

// bucket is a token bucket refilled continuously at rate tokens per second.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate float64, size int) bool {
	b.tokens = min(float64(size), b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func burstSize(f Faults) int {
	if f.Burst > 0 {
		return f.Burst
	}
	return max(1, int(math.Ceil(f.RateLimit)))
}

// admit applies latency, throttling and injected faults to one EKS call, in
// that order: a throttled call has still waited, as it would over a network.
// Its codes are not declared by every operation (ThrottlingException only by
// UpdateClusterConfig, ServerException not by the tagging ones): AWS's front end
// throttles any call and any endpoint can fail with a 500, and SDKs retry both
// by status and code whatever the operation declares.
func (s *Server) admit(ctx context.Context, account string) *apiError {
	s.mu.Lock()
	f := s.faults
	delay := f.Latency
	if f.MaxJitter > 0 {
		delay += time.Duration(s.rngJitter.Int64N(int64(f.MaxJitter) + 1))
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailableException", message: "Request cancelled."}
		case <-s.closing:
			t.Stop()
			return &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailableException", message: "The emulator is shutting down."}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	f = s.faults
	if slices.Contains(f.Throttled, account) {
		return &apiError{status: http.StatusTooManyRequests, code: "ThrottlingException", message: "Rate exceeded"}
	}
	if f.RateLimit > 0 {
		b := s.buckets[account]
		now := time.Now()
		if b == nil {
			b = &bucket{tokens: float64(burstSize(f)), last: now}
			s.buckets[account] = b
		}
		if !b.take(now, f.RateLimit, burstSize(f)) {
			return &apiError{status: http.StatusTooManyRequests, code: "ThrottlingException", message: "Rate exceeded"}
		}
	}
	// Draw only when faults are on, so switching them on does not shift the
	// sequence seen by a test that started with faults off.
	if f.FaultRate > 0 && s.rngFault.Float64() < f.FaultRate {
		return &apiError{status: http.StatusInternalServerError, code: "ServerException", message: "An internal error occurred (fault injected by the EKS emulator)."}
	}
	return nil
}

// consistencyDelay draws the propagation delay for one write. Caller holds s.mu.
func (s *Server) consistencyDelay() time.Duration {
	f := s.faults
	if f.ConsistencyDelay <= 0 {
		return 0
	}
	if !f.ConsistencyRandom {
		return f.ConsistencyDelay
	}
	return time.Duration(s.rngDelay.Int64N(int64(f.ConsistencyDelay) + 1))
}
