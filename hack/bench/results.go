package main

// Phase is the measurement of one part of the run.
type Phase struct {
	Seconds   float64        `json:"seconds"`
	Calls     map[string]int `json:"calls"`
	Total     int            `json:"total"`
	Writes    int            `json:"writes"`
	Throttled int            `json:"throttled"`
	// OtherAWS counts IAM (principal ID lookups) and STS calls, not in Total.
	OtherAWS int `json:"otherAWS"`
}

// Heals are the seconds from an out-of-band change until EKS held the spec again.
type Heals struct {
	Deletion    []float64 `json:"deletion"`
	AdminGrant  []float64 `json:"adminGrant"`
	GroupChange []float64 `json:"groupChange"` // from the start of the verification round
}

// Round is a full verification of every entry, with its background budget.
type Round struct {
	BackgroundQPS float64 `json:"backgroundQPS"`
	Seconds       float64 `json:"seconds"`
	// Reads are the describes and policy lists of the round; Sweeps the listings
	// made meanwhile.
	Reads  int `json:"reads"`
	Sweeps int `json:"sweeps"`
	// ProjectedSeconds is how long the round takes under the operator's
	// background budget (--background-qps), which only verification spends.
	ProjectedSeconds float64 `json:"projectedSeconds"`
	// SpecChangeSeconds is how long a spec change made during the round took to be Ready.
	SpecChangeSeconds float64 `json:"specChangeSeconds"`
}

// Target is one target of the issue, met or missed.
type Target struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// Result is what one run measured.
type Result struct {
	Machine  string  `json:"machine"`
	Date     string  `json:"date"`
	Entries  int     `json:"entries"`
	Standard int     `json:"standard"`
	Policies int     `json:"policies"`
	Rate     float64 `json:"rate"`
	Burst    int     `json:"burst"`
	// The operator's drift settings of the run.
	SweepSeconds        float64 `json:"sweepPeriodSeconds"`
	WatchedSweepSeconds float64 `json:"watchedSweepPeriodSeconds"`
	BackgroundQPS       float64 `json:"backgroundQPS"`
	MemoryLimit         string  `json:"memoryLimit,omitempty"`
	LatencyMS           int64   `json:"latencyMs"`
	FloorCalls          int     `json:"floorCalls"`
	FloorSeconds        float64 `json:"floorSeconds"`
	Converge            Phase   `json:"converge"`
	Ratio               float64 `json:"convergeOverFloor"`
	CallRatio           float64 `json:"callsOverFloor"`
	Stalled             int     `json:"stalledSeen"`
	// Restart is the first sweep period after a restart with every entry Ready;
	// OneSweep the calls one sweep of the cluster takes.
	Restart  Phase `json:"restart"`
	OneSweep int   `json:"oneSweep"`
	// Quiet is a window of steady state with nothing due but the sweeps.
	Quiet Phase `json:"quiet"`
	// SteadyCallsPerSecond is the quiet window's rate plus a verification round
	// spread over the verification period.
	SteadyCallsPerSecond float64 `json:"steadyCallsPerSecond"`
	VerifyPeriodSeconds  float64 `json:"verifyPeriodSeconds"`
	Heals                Heals   `json:"heals"`
	Round                Round   `json:"verificationRound"`
	UpdateWave           Phase   `json:"updateWave"`
	DeleteWave           Phase   `json:"deleteWave"`
	RSSMiB               float64 `json:"rssMiB"`
	// RSSAnonMiB is the part of RSS the process wrote (heap, stacks); RSSFileMiB
	// the pages of its binary it read, which the kernel may drop and read again.
	RSSAnonMiB float64 `json:"rssAnonMiB"`
	RSSFileMiB float64 `json:"rssFileMiB"`
	HeapMiB    float64 `json:"heapMiB"`
	CPUSeconds float64 `json:"cpuSeconds"`
	// Events is the events benchmark's (--events); nil without.
	Events  *EventsRun `json:"events,omitempty"`
	Targets []Target   `json:"targets"`
}

// SizeIndependentMet reports the targets that must hold at any N: nothing
// written in steady state, nothing read again after a restart, nothing Stalled.
func (r Result) SizeIndependentMet() bool {
	return r.Quiet.Writes == 0 && r.restartReads() == 0 && r.Stalled == 0
}

func (r Result) restartReads() int {
	return r.Restart.Calls["DescribeAccessEntry"] + r.Restart.Calls["ListAssociatedAccessPolicies"]
}
