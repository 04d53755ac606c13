package eksemulator

import (
	"encoding/json"
	"strings"
	"time"
)

// Write is one write the emulator answered OK: who wrote what to which entry,
// for a test or the soak to tell, after the fact, which writes made an entry
// what it is.
type Write struct {
	Time      time.Time
	Account   string // the caller's: the account whose cluster was written
	Op        string
	Cluster   string
	Principal string // empty for tag writes, which name Resource
	Resource  string
	Body      string // the request, as sent
	// Event is when the write's event became receivable in the events queue
	// (its first copy); zero when events are off or the event was lost.
	Event time.Time
}

// journalSize bounds the writes kept: the oldest go first.
const journalSize = 100_000

// writeOps are the operations the journal keeps.
var writeOps = map[string]bool{
	"CreateAccessEntry": true, "UpdateAccessEntry": true, "DeleteAccessEntry": true,
	"AssociateAccessPolicy": true, "DisassociateAccessPolicy": true,
	"TagResource": true, "UntagResource": true, "UpdateClusterConfig": true,
}

// journal keeps a write answered OK, with when its event is delivered. Called
// with s.mu held.
func (s *Server) journal(c *call, event time.Time) {
	if !writeOps[c.op] {
		return
	}
	if len(s.writes) >= journalSize {
		s.writes = append(s.writes[:0], s.writes[journalSize/10:]...)
	}
	principal := c.principal
	if principal == "" {
		// CreateAccessEntry names it in the body.
		var in struct {
			PrincipalArn string `json:"principalArn"`
		}
		_ = json.Unmarshal(c.body, &in)
		principal = in.PrincipalArn
	}
	s.writes = append(s.writes, Write{Time: c.now, Account: c.caller.account, Op: c.op, Cluster: c.cluster,
		Principal: principal, Resource: c.resource, Body: string(c.body), Event: event})
}

// Writes returns the writes answered OK that touched the principal's entries
// (an access entry ARN names the principal's name, so tag writes are matched by
// it), oldest first.
func (s *Server) Writes(principal string) []Write {
	name := principal[strings.LastIndex(principal, "/")+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Write
	for _, w := range s.writes {
		if w.Principal == principal || (w.Resource != "" && strings.Contains(w.Resource, "/"+name+"/")) {
			out = append(out, w)
		}
	}
	return out
}
