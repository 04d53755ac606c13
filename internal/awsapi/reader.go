package awsapi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// Endpoint and STSEndpoint replace the regional EKS and STS endpoints (the
	// EKS emulator, a VPC endpoint); empty keeps AWS's.
	Endpoint, STSEndpoint string
	// QPS and Burst are the calls a second each account and region gets: EKS
	// allows about 10.
	QPS   float64
	Burst int
}

// Reader makes the read calls of a one-off tool (the access report): EKS
// clients of any target, each account's calls paced to QPS, and throttling
// retried patiently in place, where the operator's Clients hand it to the budget
// instead. It never writes.
type Reader struct {
	base aws.Config
	opts ReaderOptions

	mu       sync.Mutex
	clients  map[readerClient]EKS
	limiters map[budget.Key]*rate.Limiter
	calls    map[budget.Key]*atomic.Int64
	accounts map[string]string // by region, STS's answer for the own credentials
}

// NewReader returns a Reader building on cfg (credentials from the SDK's chain).
func NewReader(cfg aws.Config, opts ReaderOptions) *Reader {
	if opts.QPS <= 0 {
		opts.QPS = 10
	}
	opts.Burst = max(opts.Burst, 1)
	return &Reader{base: cfg, opts: opts, clients: map[readerClient]EKS{}, limiters: map[budget.Key]*rate.Limiter{}, calls: map[budget.Key]*atomic.Int64{}, accounts: map[string]string{}}
}

// For returns the EKS API of a target whose calls act in account ("" when not
// known: the role's, else the own credentials'), paced with every other target
// of that account and region: EKS's rate is the account's, whatever the
// credentials.
func (r *Reader) For(t Target, account string) EKS {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := BudgetKey(t)
	if account != "" {
		key.Account = account
	}
	ck := readerClient{t, key}
	if e, ok := r.clients[ck]; ok {
		return e
	}
	if r.limiters[key] == nil {
		r.limiters[key] = rate.NewLimiter(rate.Limit(r.opts.QPS), r.opts.Burst)
		r.calls[key] = &atomic.Int64{}
	}
	lim, calls := r.limiters[key], r.calls[key]
	cl := eks.NewFromConfig(targetConfig(r.base, r.sts(t.Region), t, "eks-access-report"), func(o *eks.Options) {
		o.Region = t.Region
		if r.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(r.opts.Endpoint)
		}
		// A throttled read is retried here, after its backoff and a token: a
		// report has nothing better to do meanwhile. No retry quota: the SDK's
		// gives up after a burst of throttling, which a paced reader rides out.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 10
			so.RateLimiter = ratelimit.None
			// The pace already spaces the calls: a throttled one (the two buckets,
			// ours and EKS's, a moment apart) waits a little, then its token.
			so.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
				return min(time.Duration(attempt)*100*time.Millisecond, 2*time.Second), nil
			})
		})
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			// After Retry, so that every attempt waits for a token and is counted.
			return stack.Finalize.Insert(pacedMiddleware(lim, calls), "Retry", middleware.After)
		})
	})
	e := EKS{api: cl}
	r.clients[ck] = e
	return e
}

// readerClient is a client of the Reader: its credentials and its limiter.
type readerClient struct {
	t   Target
	key budget.Key
}

// CallerAccount is the account of the reader's own credentials (STS
// GetCallerIdentity, asked once a region).
func (r *Reader) CallerAccount(ctx context.Context, region string) (string, error) {
	r.mu.Lock()
	a, ok := r.accounts[region]
	r.mu.Unlock()
	if ok {
		return a, nil
	}
	out, err := r.sts(region).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.accounts[region] = aws.ToString(out.Account)
	r.mu.Unlock()
	return aws.ToString(out.Account), nil
}

// sts is an STS client of the reader's own credentials in a region.
func (r *Reader) sts(region string) *sts.Client {
	return sts.NewFromConfig(r.base, func(o *sts.Options) {
		o.Region = region
		if r.opts.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(r.opts.STSEndpoint)
		}
	})
}

// Calls counts the attempts made so far in each account and region.
func (r *Reader) Calls() map[budget.Key]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[budget.Key]int64{}
	for k, n := range r.calls {
		out[k] = n.Load()
	}
	return out
}

func pacedMiddleware(lim *rate.Limiter, calls *atomic.Int64) middleware.FinalizeMiddleware {
	return middleware.FinalizeMiddlewareFunc("eksAccessReaderPace", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if err := lim.Wait(ctx); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, err
		}
		calls.Add(1)
		return next.HandleFinalize(ctx, in)
	})
}

// ListHolders lists the principals of a cluster's entries, every page; with
// policyARN, only those holding that access policy (EKS's associatedPolicyArn
// filter).
func (e EKS) ListHolders(ctx context.Context, cluster, policyARN string) ([]string, error) {
	in := &eks.ListAccessEntriesInput{ClusterName: aws.String(cluster), MaxResults: aws.Int32(100)}
	if policyARN != "" {
		in.AssociatedPolicyArn = aws.String(policyARN)
	}
	var out []string
	pages := eks.NewListAccessEntriesPaginator(e.api, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.AccessEntries...)
	}
	return out, nil
}

// ClusterFacts are what DescribeCluster says about who EKS gave access.
type ClusterFacts struct {
	CreatedAt time.Time
	// CreatorAdmin: EKS made a cluster-admin entry for the cluster's creator
	// (accessConfig.bootstrapClusterCreatorAdminPermissions).
	CreatorAdmin bool
}

// ClusterFacts reads when EKS created the cluster and whether it gave its creator
// an entry (DescribeCluster).
func (e EKS) ClusterFacts(ctx context.Context, cluster string) (ClusterFacts, error) {
	out, err := e.api.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)})
	if err != nil || out.Cluster == nil {
		return ClusterFacts{}, err
	}
	f := ClusterFacts{CreatedAt: aws.ToTime(out.Cluster.CreatedAt)}
	if ac := out.Cluster.AccessConfig; ac != nil {
		f.CreatorAdmin = aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions)
	}
	return f, nil
}
