package eksemulator

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a running (or ready to run) EKS emulator.
type Server struct {
	mu             sync.Mutex
	cfg            Config
	defaultAccount string
	defaultRegion  string
	permissive     bool
	clusters       map[clusterKey]*cluster
	clusterOrder   []clusterKey
	principals     map[string]*principal
	// deleted are principals deleted in IAM (DeletePrincipal, a set provisioned
	// again): unknown even in permissive mode, until added again.
	deleted       map[string]bool
	listRolesPage int                 // most roles a ListRoles page holds; 0 is IAM's 100
	sessions      map[string]*session // by access key ID issued by AssumeRole
	faults        Faults
	buckets       map[string]*bucket // per account
	calls         map[string]map[string]int
	accountCalls  map[string]map[string]int // account -> operation -> calls answered OK
	writes        []Write                   // the writes answered OK, oldest first (journal)

	// SQS (sqs.go) and the events published to it (events.go).
	queues          map[queueKey]*queue
	deletedQueues   map[queueKey]time.Time
	sqsWake         chan struct{} // closed and replaced when a queue's messages change
	events          EventsConfig
	eventsPublished int
	eventsDropped   int

	// Separate streams, so that e.g. turning on jitter does not change which
	// calls get a fault or which IDs are minted. rngSQS makes message IDs,
	// receipt handles and event IDs; rngEvents draws event loss, duplicates and
	// delays.
	rngIDs, rngDelay, rngFault, rngJitter, rngEvents, rngSQS *rand.Rand

	logger    *slog.Logger
	closing   chan struct{}
	closeOnce sync.Once
	ln        net.Listener
	httpSrv   *http.Server
}

// New builds a server from cfg; it serves once Start is called or through Handler.
func New(cfg Config) (*Server, error) {
	cfg, err := normalizeConfig(cfg)
	if err != nil {
		return nil, err
	}
	seed := uint64(cfg.Seed)
	s := &Server{
		cfg:            cfg,
		defaultAccount: cfg.DefaultAccount,
		defaultRegion:  cfg.Clusters[0].Region,
		permissive:     cfg.Principals == nil,
		clusters:       map[clusterKey]*cluster{},
		principals:     map[string]*principal{},
		deleted:        map[string]bool{},
		sessions:       map[string]*session{},
		faults:         faultsOf(cfg),
		buckets:        map[string]*bucket{},
		calls:          map[string]map[string]int{},
		accountCalls:   map[string]map[string]int{},
		rngIDs:         rand.New(rand.NewPCG(seed, 1)),
		rngDelay:       rand.New(rand.NewPCG(seed, 2)),
		rngFault:       rand.New(rand.NewPCG(seed, 3)),
		rngJitter:      rand.New(rand.NewPCG(seed, 4)),
		rngEvents:      rand.New(rand.NewPCG(seed, 5)),
		rngSQS:         rand.New(rand.NewPCG(seed, 6)),
		queues:         map[queueKey]*queue{},
		deletedQueues:  map[queueKey]time.Time{},
		sqsWake:        make(chan struct{}),
		events:         cfg.Events,
		logger:         cfg.Logger,
		closing:        make(chan struct{}),
	}
	now := time.Now().Truncate(time.Millisecond)
	s.ensureEventsQueue(now)
	// Configured principals exist from the start; so does every creator.
	for _, p := range cfg.Principals {
		if s.principals[p] == nil {
			s.principals[p] = &principal{arn: p, id: s.newPrincipalID(principalKind(p)), createdAt: now, visibleAt: now}
		}
	}
	for _, ps := range cfg.PermissionSets {
		arn := SSORoleARN(ps.Account, ps.Name, ps.Region, cmp.Or(ps.Suffix, s.randomString(16, "0123456789abcdef")))
		s.principals[arn] = &principal{arn: arn, id: s.newPrincipalID("role"), createdAt: now, visibleAt: now}
	}
	for _, cc := range cfg.Clusters {
		k := clusterKey{cc.Account, cc.Region, cc.Name}
		c := &cluster{
			key:             k,
			arn:             fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", PartitionOf(cc.Region), cc.Region, cc.Account, cc.Name),
			createdAt:       now,
			mode:            cc.AuthenticationMode,
			version:         cc.KubernetesVersion,
			platformVersion: cc.PlatformVersion,
			creatorAdmin:    cc.CreatorAdmin,
			maxEntries:      cc.MaxAccessEntries,
			tags:            map[string]string{},
			entries:         map[string]*entry{},
			deleted:         map[string]time.Time{},
			createTokens:    map[string]*createToken{},
			updateTokens:    map[string]*update{},
		}
		// normalizeConfig has checked the entries EKS makes; their principals
		// exist in IAM from the start.
		c.made, _ = madeEntriesFor(cc)
		for _, m := range c.made {
			if s.principals[m.principal.ARN] == nil {
				s.principals[m.principal.ARN] = &principal{arn: m.principal.ARN, id: s.newPrincipalID(m.principal.Kind), createdAt: now, visibleAt: now}
			}
		}
		if cc.AuthenticationMode != ModeConfigMap {
			s.addMadeEntries(c, now)
		}
		s.clusters[k] = c
		s.clusterOrder = append(s.clusterOrder, k)
	}
	return s, nil
}

func principalKind(arn string) string {
	if p, err := parsePrincipalARN(arn); err == nil {
		return p.Kind
	}
	return "role"
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
func (s *Server) Start(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("eksemulator: server already started")
	}
	select {
	case <-s.closing:
		return errors.New("eksemulator: server is closed")
	default:
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.httpSrv.Serve(ln) }()
	return nil
}

// URL is the base URL to give SDK clients ("http://127.0.0.1:PORT"); empty
// before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops the listener, drops open connections and wakes calls sleeping in
// injected latency or long polling. There are no other timers: time-driven
// state is lazy.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		s.mu.Lock()
		srv := s.httpSrv
		s.mu.Unlock()
		if srv != nil {
			err = srv.Close()
		}
	})
	return err
}

// Handler serves the EKS, STS and SQS APIs and the /_emulator/ debug paths.
func (s *Server) Handler() http.Handler { return s }

// Calls returns per-operation call counts by outcome ("OK" or an error code).
func (s *Server) Calls() map[string]map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]int, len(s.calls))
	for op, m := range s.calls {
		out[op] = maps.Clone(m)
	}
	return out
}

// CallsOf returns, for one account, how many calls of each EKS operation it made
// that EKS answered (OK): what an account's budget was spent on.
func (s *Server) CallsOf(account string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.accountCalls[account])
}

// ResetCalls clears the call counts.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]map[string]int{}
	s.accountCalls = map[string]map[string]int{}
}

func (s *Server) count(op, outcome string) {
	s.mu.Lock()
	m := s.calls[op]
	if m == nil {
		m = map[string]int{}
		s.calls[op] = m
	}
	m[outcome]++
	s.mu.Unlock()
	if s.logger != nil {
		s.logger.Debug("call", "operation", op, "outcome", outcome)
	}
}

// call is one routed EKS request.
type call struct {
	op        string
	caller    caller
	cluster   string // {name}
	principal string // {principalArn}
	policy    string // {policyArn}
	updateID  string
	resource  string // {resourceArn}
	query     url.Values
	body      []byte
	now       time.Time

	// For the call's CloudTrail event.
	requestID, sourceIP, userAgent string
}

type handlerFunc func(s *Server, c *call) (any, *apiError)

type route struct {
	op     string
	handle handlerFunc
}

// routeFor maps a method and unescaped path segments to an operation. The
// path is split before unescaping because ARNs arrive with "/" as %2F.
func routeFor(method string, seg []string, c *call) (route, bool) {
	get, post, del := method == http.MethodGet, method == http.MethodPost, method == http.MethodDelete
	switch {
	case len(seg) == 1 && seg[0] == "access-policies" && get:
		return route{"ListAccessPolicies", (*Server).listAccessPolicies}, true
	case len(seg) == 1 && seg[0] == "clusters" && get:
		return route{"ListClusters", (*Server).listClusters}, true
	case len(seg) == 2 && seg[0] == "tags":
		c.resource = seg[1]
		switch {
		case post:
			return route{"TagResource", (*Server).tagResource}, true
		case get:
			return route{"ListTagsForResource", (*Server).listTagsForResource}, true
		case del:
			return route{"UntagResource", (*Server).untagResource}, true
		}
	case len(seg) >= 2 && seg[0] == "clusters":
		c.cluster = seg[1]
		rest := seg[2:]
		switch {
		case len(rest) == 0 && get:
			return route{"DescribeCluster", (*Server).describeCluster}, true
		case len(rest) == 1 && rest[0] == "update-config" && post:
			return route{"UpdateClusterConfig", (*Server).updateClusterConfig}, true
		case len(rest) == 1 && rest[0] == "updates" && get:
			return route{"ListUpdates", (*Server).listUpdates}, true
		case len(rest) == 2 && rest[0] == "updates" && get:
			c.updateID = rest[1]
			return route{"DescribeUpdate", (*Server).describeUpdate}, true
		case len(rest) == 1 && rest[0] == "access-entries" && post:
			return route{"CreateAccessEntry", (*Server).createAccessEntry}, true
		case len(rest) == 1 && rest[0] == "access-entries" && get:
			return route{"ListAccessEntries", (*Server).listAccessEntries}, true
		case len(rest) >= 2 && rest[0] == "access-entries":
			c.principal = rest[1]
			switch {
			case len(rest) == 2 && get:
				return route{"DescribeAccessEntry", (*Server).describeAccessEntry}, true
			case len(rest) == 2 && post:
				return route{"UpdateAccessEntry", (*Server).updateAccessEntry}, true
			case len(rest) == 2 && del:
				return route{"DeleteAccessEntry", (*Server).deleteAccessEntry}, true
			case len(rest) == 3 && rest[2] == "access-policies" && post:
				return route{"AssociateAccessPolicy", (*Server).associateAccessPolicy}, true
			case len(rest) == 3 && rest[2] == "access-policies" && get:
				return route{"ListAssociatedAccessPolicies", (*Server).listAssociatedAccessPolicies}, true
			case len(rest) == 4 && rest[2] == "access-policies" && del:
				c.policy = rest[3]
				return route{"DisassociateAccessPolicy", (*Server).disassociateAccessPolicy}, true
			}
		}
	}
	return route{}, false
}

func splitPath(escaped string) ([]string, error) {
	escaped = strings.TrimPrefix(escaped, "/")
	if escaped == "" {
		return nil, nil
	}
	seg := strings.Split(escaped, "/")
	for i, p := range seg {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		seg[i] = u
	}
	return seg, nil
}

const maxBody = 1 << 20

// ServeHTTP routes a request: debug paths, SQS (POST with an AmazonSQS
// X-Amz-Target), STS (POST /), then EKS operations, which pass through latency,
// throttling and fault injection before the state.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		s.serveDebug(w, r)
		return
	}
	if isSQS(r) {
		s.serveSQS(w, r)
		return
	}
	if r.URL.Path == "/" && r.Method == http.MethodPost {
		s.serveSTS(w, r)
		return
	}

	// The request ID is known before the answer, for the call's event.
	c := &call{query: r.URL.Query(), requestID: requestID(), sourceIP: clientIP(r), userAgent: r.UserAgent()}
	w.Header().Set("X-Amzn-RequestId", c.requestID)
	seg, err := splitPath(r.URL.EscapedPath())
	rt, ok := route{}, false
	if err == nil {
		rt, ok = routeFor(r.Method, seg, c)
	}
	if !ok {
		s.count("Unknown", "UnknownOperationException")
		writeError(w, newAPIError(http.StatusNotFound, "UnknownOperationException", "The EKS emulator does not implement %s %s.", r.Method, r.URL.Path))
		return
	}
	c.op = rt.op

	// Only POST operations have a body; others ignore one, as HTTP servers do.
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			s.finish(w, c, nil, malformedInput(c, "The request body could not be read or is larger than %d bytes.", maxBody))
			return
		}
		c.body = body
	}

	s.mu.Lock()
	who, aerr := s.callerFor(r)
	s.mu.Unlock()
	if aerr != nil {
		s.finish(w, c, nil, aerr)
		return
	}
	c.caller = who
	if aerr := s.admit(r.Context(), c.caller.account); aerr != nil {
		s.finish(w, c, nil, aerr)
		return
	}

	s.mu.Lock()
	c.now = time.Now().Truncate(time.Millisecond)
	for _, k := range s.clusterOrder { // in order: settling may mint seeded IDs
		s.clusters[k].settle(s, c.now)
	}
	out, aerr := rt.handle(s, c)
	s.mu.Unlock()
	s.finish(w, c, out, aerr)
}

func (s *Server) finish(w http.ResponseWriter, c *call, out any, aerr *apiError) {
	if aerr != nil {
		s.count(c.op, aerr.code)
		writeError(w, aerr)
		return
	}
	s.count(c.op, "OK")
	s.mu.Lock()
	s.journal(c, s.publishEvent(c, out))
	if c.caller.account != "" {
		if s.accountCalls[c.caller.account] == nil {
			s.accountCalls[c.caller.account] = map[string]int{}
		}
		s.accountCalls[c.caller.account][c.op]++
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func requestID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.UintN(256))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if v == nil {
		v = struct{}{}
	}
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(&buf, `{"message":%q}`, err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("X-Amzn-RequestId") == "" {
		w.Header().Set("X-Amzn-RequestId", requestID())
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError answers the way EKS does: the code in X-Amzn-ErrorType (which the
// Go SDK reads first) and in __type (which other clients read), plus message.
func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]string{"__type": e.code, "message": e.message}
	if e.cluster != "" {
		body["clusterName"] = e.cluster
	}
	w.Header().Set("X-Amzn-ErrorType", e.code)
	writeJSON(w, e.status, body)
}

// decodeBody unmarshals a JSON request body; an empty body is an empty object.
func decodeBody(c *call, v any) *apiError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return malformedInput(c, "The request body is not valid JSON for %s: %v", c.op, err)
	}
	return nil
}

// malformedInput is the error for a request body that cannot be read: the
// client error the operation declares, BadRequestException for the tagging
// operations and InvalidRequestException for the others that take a body.
func malformedInput(c *call, format string, args ...any) *apiError {
	switch c.op {
	case "TagResource", "UntagResource", "ListTagsForResource":
		return badRequest(format, args...)
	}
	return invalidRequest(format, args...)
}

// caller is who signed a request and where it is sent.
type caller struct {
	accessKey string
	region    string
	account   string
	session   *session // set for credentials issued by AssumeRole
}

// callerFor reads the SigV4 credential scope (header or presigned query).
// Caller holds s.mu.
func (s *Server) callerFor(r *http.Request) (caller, *apiError) {
	cred := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		if i := strings.Index(auth, "Credential="); i >= 0 {
			cred = auth[i+len("Credential="):]
			if j := strings.IndexAny(cred, ", "); j >= 0 {
				cred = cred[:j]
			}
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	c := caller{region: s.defaultRegion, account: s.defaultAccount}
	if parts := strings.Split(cred, "/"); len(parts) == 5 {
		c.accessKey, c.region = parts[0], parts[2]
	}
	if sess := s.sessions[c.accessKey]; sess != nil {
		// Expired credentials are refused by AWS's front end before any
		// operation, so no operation declares this code.
		if time.Now().After(sess.expires) {
			return c, newAPIError(http.StatusForbidden, "ExpiredTokenException", "The security token included in the request is expired")
		}
		c.account = sess.role.Account
		c.session = sess
	}
	return c, nil
}

// errorMaker builds the error an operation declares for a bad parameter.
type errorMaker func(format string, args ...any) *apiError

// pageParams reads maxResults (1-100, default 100) and nextToken; mk makes the
// error for a bad one.
func pageParams(q url.Values, mk errorMaker) (int, string, *apiError) {
	limit := 100
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, "", mk("maxResults must be an integer between 1 and 100; got %q.", v)
		}
		limit = n
	}
	after := ""
	if t := q.Get("nextToken"); t != "" {
		a, ok := decodeToken(t)
		if !ok {
			return 0, "", mk("The nextToken %q is not valid.", t)
		}
		after = a
	}
	return limit, after, nil
}

// paginate returns the keys (sorted) after the token position, and the token
// for the next page. Keyed tokens stay valid when items are added or removed.
func paginate(keys []string, q url.Values, mk errorMaker) ([]string, *string, *apiError) {
	limit, after, aerr := pageParams(q, mk)
	if aerr != nil {
		return nil, nil, aerr
	}
	start := 0
	if after != "" {
		for start < len(keys) && keys[start] <= after {
			start++
		}
	}
	end := min(start+limit, len(keys))
	page := keys[start:end]
	if end < len(keys) {
		t := encodeToken(page[len(page)-1])
		return page, &t, nil
	}
	return page, nil, nil
}
