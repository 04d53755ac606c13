// Command eks-emulator serves the in-process EKS access-entry emulator
// (internal/eksemulator) on a loopback port, for tests and local experiments
// with the AWS CLI or SDKs. It is not AWS and grants nothing anywhere.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

const usage = `eks-emulator: a TEST TOOL that emulates the Amazon EKS access-entry API.

It serves EKS's REST-JSON API (access entries, access policies, DescribeCluster,
UpdateClusterConfig for the authentication mode, updates, tags), STS
GetCallerIdentity/AssumeRole, IAM GetRole/GetUser and SQS, so the AWS CLI and
SDKs work against it:

  eks-emulator --listen 127.0.0.1:8686 &
  aws eks list-access-entries --cluster-name demo --endpoint-url http://127.0.0.1:8686

Any credentials are accepted (signatures are not verified); the region comes
from the request signature. It is not AWS: nothing here reaches a real account.
Without --config there is one cluster "demo" (account 111122223333, us-west-2,
API_AND_CONFIG_MAP) and every well-formed IAM principal ARN exists.

Its SQS speaks SQS's JSON protocol (standard queues: send, receive with long
polling, visibility timeouts, deletes, batches). With --events-queue, every
write EKS answers OK is published to that queue as EventBridge delivers EKS's
CloudTrail events ("AWS API Call via CloudTrail", source aws.eks):

  eks-emulator --events-queue eks-access-events &
  aws sqs receive-message --endpoint-url http://127.0.0.1:8686 --wait-time-seconds 20 \
    --queue-url http://127.0.0.1:8686/111122223333/eks-access-events

Debug paths: GET/DELETE /_emulator/calls, GET /_emulator/state,
POST /_emulator/principals, GET/PUT /_emulator/faults, GET/PUT /_emulator/events.

Usage: eks-emulator [flags]

Flags (a flag given on the command line overrides the config file):
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eks-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:8686", "`address` to listen on; loopback by default (port 0 picks a free port)")
	configPath := fs.String("config", "", "YAML configuration `file` (clusters, principals, defaultAccount and the settings below)")
	seed := fs.Int64("seed", 0, "seed for every random choice (IDs, delays, jitter, faults)")
	delay := fs.Duration("consistency-delay", 0, "propagation delay of creates, deletes and new principals")
	random := fs.Bool("consistency-random", false, "draw each propagation delay at random up to --consistency-delay")
	rate := fs.Float64("rate-limit", 0, "requests per second per account before ThrottlingException (0 = unlimited)")
	burst := fs.Int("burst", 0, "token bucket size for --rate-limit (0 = ceil(rate))")
	latency := fs.Duration("latency", 0, "latency added to every EKS call")
	jitter := fs.Duration("max-jitter", 0, "random extra latency, up to this much")
	faultRate := fs.Float64("fault-rate", 0, "share of EKS calls (0..1) answered with 500 ServerException")
	updateDuration := fs.Duration("update-duration", eksemulator.DefaultUpdateDuration, "how long an authentication-mode update keeps the cluster UPDATING")
	eventsQueue := fs.String("events-queue", "", "SQS queue `name` (in the default account and the first cluster's region) that EKS's CloudTrail events of the writes go to; empty: no events")
	eventsDelay := fs.Duration("events-delay", 0, "how long each event takes to reach --events-queue")
	eventsExtra := fs.Duration("events-max-extra-delay", 0, "random extra delay of each event, up to this much (events then arrive out of order)")
	eventsLoss := fs.Float64("events-loss", 0, "share of events (0..1) never delivered")
	eventsDuplicates := fs.Float64("events-duplicates", 0, "share of events (0..1) delivered twice")
	verbose := fs.Bool("verbose", false, "log every call and its outcome to stderr")
	listPolicies := fs.Bool("list-access-policies", false, "print the names of the access policies the emulator knows, one a line, and exit")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eks-emulator: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}

	if *listPolicies {
		// The catalogue's one source of truth, for scripts that compare it with
		// what ListAccessPolicies answers.
		for _, n := range eksemulator.AccessPolicyNames() {
			fmt.Fprintln(stdout, n)
		}
		return 0
	}

	var cfg eksemulator.Config
	if *configPath != "" {
		var err error
		if cfg, err = eksemulator.LoadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "eks-emulator: %v\n", err)
			return 1
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "seed":
			cfg.Seed = *seed
		case "consistency-delay":
			cfg.ConsistencyDelay = *delay
		case "consistency-random":
			cfg.ConsistencyRandom = *random
		case "rate-limit":
			cfg.RateLimit = *rate
		case "burst":
			cfg.Burst = *burst
		case "latency":
			cfg.Latency = *latency
		case "max-jitter":
			cfg.MaxJitter = *jitter
		case "fault-rate":
			cfg.FaultRate = *faultRate
		case "update-duration":
			cfg.UpdateDuration = *updateDuration
		case "events-queue":
			cfg.Events.Queue = *eventsQueue
		case "events-delay":
			cfg.Events.Delay = *eventsDelay
		case "events-max-extra-delay":
			cfg.Events.MaxExtraDelay = *eventsExtra
		case "events-loss":
			cfg.Events.Loss = *eventsLoss
		case "events-duplicates":
			cfg.Events.Duplicates = *eventsDuplicates
		}
	})
	if cfg.UpdateDuration == 0 {
		cfg.UpdateDuration = *updateDuration
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	srv, err := eksemulator.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "eks-emulator: %v\n", err)
		return 1
	}
	if host, _, err := net.SplitHostPort(*listen); err == nil {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			fmt.Fprintf(stderr, "eks-emulator: warning: listening on %s, which is not a loopback address; anyone who can reach it can use the emulator\n", *listen)
		}
	}
	if err := srv.Start(*listen); err != nil {
		fmt.Fprintf(stderr, "eks-emulator: %v\n", err)
		return 1
	}
	// Scripts read this line to learn the port when --listen ends in :0.
	fmt.Fprintf(stdout, "eks-emulator listening on %s\n", srv.URL())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(stderr, "eks-emulator: %v\n", err)
			return 1
		}
	case <-time.After(5 * time.Second):
		fmt.Fprintln(stderr, "eks-emulator: shutdown timed out")
		return 1
	}
	return 0
}
