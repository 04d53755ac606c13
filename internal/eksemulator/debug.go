package eksemulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// faultsJSON is Faults with durations as Go duration strings, for the debug API.
type faultsJSON struct {
	RateLimit         float64  `json:"rateLimit"`
	Burst             int      `json:"burst"`
	Latency           string   `json:"latency"`
	MaxJitter         string   `json:"maxJitter"`
	FaultRate         float64  `json:"faultRate"`
	ConsistencyDelay  string   `json:"consistencyDelay"`
	ConsistencyRandom bool     `json:"consistencyRandom"`
	Throttled         []string `json:"throttled,omitempty"`
}

// serveDebug serves the /_emulator/ paths. They are not EKS operations: they
// are neither counted, throttled nor faulted.
//
//	GET    /_emulator/calls       call counts: {"Op": {"OK": n, "Code": n}}
//	DELETE /_emulator/calls       reset the counts
//	GET    /_emulator/state       clusters, entries, policies, tags, principals
//	POST   /_emulator/principals  {"arn": "...", "recreate": false}
//	POST   /_emulator/permission-sets/reprovision  {"account": "...", "permissionSet": "..."}: the set's role gets a new suffix and ID
//	GET    /_emulator/faults      current fault settings
//	PUT    /_emulator/faults      replace fault settings (durations like "250ms")
//	GET    /_emulator/events      event settings, and events published and dropped
//	PUT    /_emulator/events      replace event settings; an absent "queue" keeps the queue
func (s *Server) serveDebug(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_emulator/calls":
		switch r.Method {
		case http.MethodGet:
			writePlainJSON(w, http.StatusOK, s.Calls())
		case http.MethodDelete:
			s.ResetCalls()
			w.WriteHeader(http.StatusNoContent)
		default:
			debugError(w, http.StatusMethodNotAllowed, "use GET or DELETE")
		}
	case "/_emulator/state":
		if r.Method != http.MethodGet {
			debugError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		writePlainJSON(w, http.StatusOK, s.State())
	case "/_emulator/principals":
		if r.Method != http.MethodPost {
			debugError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		var req struct {
			ARN      string `json:"arn"`
			Recreate bool   `json:"recreate"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
			debugError(w, http.StatusBadRequest, "body must be {\"arn\": \"...\", \"recreate\": false}: "+err.Error())
			return
		}
		if _, aerr := parsePrincipalARN(req.ARN); aerr != nil {
			debugError(w, http.StatusBadRequest, aerr.message)
			return
		}
		if req.Recreate {
			s.RecreatePrincipal(req.ARN)
		} else {
			s.AddPrincipal(req.ARN)
		}
		writePlainJSON(w, http.StatusOK, map[string]string{"arn": req.ARN, "id": s.PrincipalID(req.ARN)})
	case "/_emulator/permission-sets/reprovision":
		if r.Method != http.MethodPost {
			debugError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		var req struct {
			Account       string `json:"account"`
			PermissionSet string `json:"permissionSet"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
			debugError(w, http.StatusBadRequest, "body must be {\"account\": \"...\", \"permissionSet\": \"...\"}: "+err.Error())
			return
		}
		arn, err := s.ReprovisionPermissionSet(req.Account, req.PermissionSet)
		if err != nil {
			debugError(w, http.StatusNotFound, err.Error())
			return
		}
		writePlainJSON(w, http.StatusOK, map[string]string{"arn": arn, "id": s.PrincipalID(arn)})
	case "/_emulator/faults":
		switch r.Method {
		case http.MethodGet:
			writePlainJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
		case http.MethodPut:
			var fj faultsJSON
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&fj); err != nil {
				debugError(w, http.StatusBadRequest, err.Error())
				return
			}
			f, err := fromFaultsJSON(fj)
			if err == nil {
				f, err = checkFaults(f)
			}
			if err != nil {
				debugError(w, http.StatusBadRequest, err.Error())
				return
			}
			s.SetFaults(f)
			writePlainJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
		default:
			debugError(w, http.StatusMethodNotAllowed, "use GET or PUT")
		}
	case "/_emulator/events":
		switch r.Method {
		case http.MethodGet:
			writePlainJSON(w, http.StatusOK, s.eventsJSON())
		case http.MethodPut:
			var ej eventsJSON
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&ej); err != nil {
				debugError(w, http.StatusBadRequest, err.Error())
				return
			}
			e, err := fromEventsJSON(ej, s.Events().Queue)
			if err == nil {
				err = checkEvents(e)
			}
			if err != nil {
				debugError(w, http.StatusBadRequest, err.Error())
				return
			}
			s.SetEvents(e)
			writePlainJSON(w, http.StatusOK, s.eventsJSON())
		default:
			debugError(w, http.StatusMethodNotAllowed, "use GET or PUT")
		}
	default:
		debugError(w, http.StatusNotFound, "unknown debug path; see /_emulator/calls, /_emulator/state, /_emulator/principals, /_emulator/faults, /_emulator/events")
	}
}

// eventsJSON is EventsConfig for the debug API, with durations as Go duration
// strings, and the counts (which a PUT ignores).
type eventsJSON struct {
	Queue         *string `json:"queue"`
	Delay         string  `json:"delay"`
	MaxExtraDelay string  `json:"maxExtraDelay"`
	Loss          float64 `json:"loss"`
	Duplicates    float64 `json:"duplicates"`
	Unreachable   bool    `json:"unreachable"`
	Published     int     `json:"published"`
	Dropped       int     `json:"dropped"`
}

func (s *Server) eventsJSON() eventsJSON {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events
	return eventsJSON{Queue: &e.Queue, Delay: e.Delay.String(), MaxExtraDelay: e.MaxExtraDelay.String(), Loss: e.Loss,
		Duplicates: e.Duplicates, Unreachable: e.Unreachable, Published: s.eventsPublished, Dropped: s.eventsDropped}
}

// fromEventsJSON reads a PUT: a settings change should not stop the events
// because it left the queue out, so an absent queue keeps the current one.
func fromEventsJSON(ej eventsJSON, queue string) (EventsConfig, error) {
	e := EventsConfig{Queue: queue, Loss: ej.Loss, Duplicates: ej.Duplicates, Unreachable: ej.Unreachable}
	if ej.Queue != nil {
		e.Queue = *ej.Queue
	}
	for _, d := range []struct {
		name, in string
		out      *time.Duration
	}{{"delay", ej.Delay, &e.Delay}, {"maxExtraDelay", ej.MaxExtraDelay, &e.MaxExtraDelay}} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil {
			return e, fmt.Errorf("%s: %w", d.name, err)
		}
		*d.out = v
	}
	return e, nil
}

func toFaultsJSON(f Faults) faultsJSON {
	return faultsJSON{
		RateLimit: f.RateLimit, Burst: f.Burst, FaultRate: f.FaultRate, ConsistencyRandom: f.ConsistencyRandom, Throttled: f.Throttled,
		Latency: f.Latency.String(), MaxJitter: f.MaxJitter.String(), ConsistencyDelay: f.ConsistencyDelay.String(),
	}
}

func fromFaultsJSON(fj faultsJSON) (Faults, error) {
	f := Faults{RateLimit: fj.RateLimit, Burst: fj.Burst, FaultRate: fj.FaultRate, ConsistencyRandom: fj.ConsistencyRandom, Throttled: fj.Throttled}
	for _, d := range []struct {
		in  string
		out *time.Duration
	}{{fj.Latency, &f.Latency}, {fj.MaxJitter, &f.MaxJitter}, {fj.ConsistencyDelay, &f.ConsistencyDelay}} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil {
			return f, err
		}
		*d.out = v
	}
	return f, nil
}

func writePlainJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func debugError(w http.ResponseWriter, status int, msg string) {
	writePlainJSON(w, status, map[string]string{"message": msg})
}
