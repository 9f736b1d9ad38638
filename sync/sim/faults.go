package sim

import "net/http"

// Fault is one kind of injected failure.
type Fault string

const (
	FaultNone  Fault = ""
	Fault500   Fault = "500"   // problem JSON from the application (XML from the file host)
	Fault502   Fault = "502"   // HTML page from the gateway, no x-ratelimit-* headers
	Fault503   Fault = "503"   // HTML page from the gateway, no Retry-After
	FaultReset Fault = "reset" // the connection is reset before any response
	// FaultStall answers nothing for Options.FaultStall (or until the
	// client gives up), then a gateway 504.
	FaultStall Fault = "stall"
	// FaultTruncate (PDF downloads only) sends the headers with the full
	// Content-Length, half the body, then closes the connection.
	FaultTruncate Fault = "truncate"
)

var (
	apiFaults = []Fault{Fault500, Fault502, Fault503, FaultReset, FaultStall}
	pdfFaults = []Fault{Fault500, Fault502, Fault503, FaultReset, FaultStall, FaultTruncate}
)

// QueueAPIFaults makes the next API calls fail with these faults, in
// order, whatever FaultRate is (one per call; FaultNone lets a call
// through). Like random faults they strike before auth, rate limiting
// and any effect.
func (s *Server) QueueAPIFaults(f ...Fault) {
	s.mu.Lock()
	s.apiQueue = append(s.apiQueue, f...)
	s.mu.Unlock()
}

// QueuePDFFaults does the same for the next PDF downloads.
func (s *Server) QueuePDFFaults(f ...Fault) {
	s.mu.Lock()
	s.pdfQueue = append(s.pdfQueue, f...)
	s.mu.Unlock()
}

// pickFault draws the fault for one request (FaultNone mostly) and counts it.
func (s *Server) pickFault(pdf bool) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	queue, rate, kinds := &s.apiQueue, s.o.FaultRate, apiFaults
	if pdf {
		queue, rate, kinds = &s.pdfQueue, s.o.PDFFaultRate, pdfFaults
	}
	f := FaultNone
	if len(*queue) > 0 {
		f = (*queue)[0]
		*queue = (*queue)[1:]
	} else if rate > 0 && s.faultRNG.Float64() < rate {
		f = kinds[s.faultRNG.IntN(len(kinds))]
	}
	if f != FaultNone {
		if pdf {
			s.stats.PDFFaults++
		} else {
			s.stats.Faults++
		}
		s.stats.FaultKinds[f]++
	}
	return f
}

func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, f Fault, pdf bool) {
	switch f {
	case Fault500:
		if pdf {
			writeS3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		} else {
			writeProblem(w, http.StatusInternalServerError, "Internal Server Error")
		}
	case Fault502:
		writeGatewayPage(w, http.StatusBadGateway)
	case Fault503:
		writeGatewayPage(w, http.StatusServiceUnavailable)
	case FaultStall:
		if s.sleep(r.Context(), s.o.FaultStall) {
			writeGatewayPage(w, http.StatusGatewayTimeout)
		} else {
			s.dropUnlessGone(w, r)
		}
	default: // FaultReset, and FaultTruncate queued for the API
		abortConn(w, true)
	}
}

// dropUnlessGone ends a request whose wait was cut short: nothing to do if
// the client left, else (the server is closing) the connection is reset
// rather than answered with an empty 200.
func (s *Server) dropUnlessGone(w http.ResponseWriter, r *http.Request) {
	if r.Context().Err() == nil {
		abortConn(w, true)
	}
}
