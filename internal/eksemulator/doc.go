// Package eksemulator is an in-process emulator of the Amazon EKS access-entry
// API, for tests. It serves EKS's REST-JSON protocol (and the two STS calls SDK
// tools need, and IAM's GetRole and GetUser) over real HTTP, so the unmodified aws-sdk-go-v2 EKS client and the
// AWS CLI can be pointed at it with a custom endpoint.
//
// What it models:
//   - clusters keyed by (account, region, name), with an authentication mode that
//     only moves forward through an asynchronous UpdateClusterConfig;
//   - access entries, their access-policy associations and tags, with the rules
//     and defaults EKS applies (see rules.go), and the access-policy catalogue;
//   - the entries EKS makes itself for a cluster's creator, node groups,
//     Fargate profiles, Auto Mode and capabilities (see eksmade.go);
//   - partitions: every ARN follows the partition of the cluster's region;
//   - IAM principals with unique IDs (strict mode) or any well-formed ARN
//     (permissive mode); a principal deleted and created again under its ARN
//     gets a new ID, and the entries made for the old one are marked stale;
//   - eventual consistency: a created entry is invisible to reads for a
//     propagation delay, a deleted one still blocks a create of the same
//     principal, and a just-added principal is "invalid" until it propagates;
//   - per-account throttling, latency and injected server errors, all seeded;
//   - SQS standard queues, in SQS's JSON protocol (sqs.go), and, when
//     Config.Events names a queue, EKS's CloudTrail events of every write,
//     published to it as EventBridge would, with delays, reordering, loss,
//     duplicates and an unreachable queue on demand (events.go).
//
// The caller's region comes from the SigV4 credential scope and its account is
// the configured default account, or the role's account for credentials issued
// by the emulator's AssumeRole. Signatures are not verified.
//
// Simplifications: updates to an existing entry (UpdateAccessEntry, policy
// associations, tags) are visible at once; only a delete is delayed, and only
// for creates of the same principal (reads see the delete immediately).
package eksemulator
