// Package sim is the built-in Askara API simulator: an http.Handler that
// serves the document-synchronisation API and its pre-signed PDF links,
// used by the tests, `clinicsync sim`, the demo and the benchmarks. It is
// meant to be at least as demanding as a hostile real server, and it is
// deterministic given Options.Seed (UUIDs, names, sizes, PDF bytes, the
// sequence of random faults for a given sequence of requests).
//
// # Endpoints
//
//	GET  /documents?synchronized=false|true&page=N&itemsPerPage=M
//	GET  /documents/{uuid}
//	POST /documents/{uuid}/status
//	GET  /files/{uuid}/{fileName}?expires=…&signature=…   (pre-signed link)
//	GET  /healthz
//
// API calls need "Authorization: Bearer <token>" (Options.Token, or any
// non-empty token); pre-signed links need none, and Stats.PDFAuthorization
// counts downloads that sent one anyway (a client must not leak its token
// to the file host).
//
// # Choices where askara-api.md says "not documented"
//
// Collection body: one shape per server (Options.Format): Hydra
// ("hydra:member", "hydra:totalItems", "hydra:view" with relative
// "hydra:first/last/previous/next" IRIs, next omitted on the last page),
// the un-prefixed JSON-LD form ("member", "totalItems", "view.next"), or a
// plain JSON array with no paging metadata (the client asks page=N+1 until
// a page is shorter than itemsPerPage or empty). Items are ordered by
// creation (order[createdAt]=desc reverses); JSON-LD items and their
// patients carry @id and @type. Paging IRIs repeat the request's own query
// with page= replaced and appended last. itemsPerPage outside 0..100 or not
// a number, and page below 1, are 400; itemsPerPage=0 gives an empty page
// with the total. An unrecognised synchronized= value is ignored (every
// document is listed), as API Platform's boolean filter does.
//
// The filter is live: a document leaves synchronized=false as soon as a
// success:true is recorded, so page 2 fetched after confirming page 1
// skips documents. A later success:false does not un-synchronize it.
//
// Every document carries updatedAt (createdAt at first). It moves, by at
// least one second, when the platform edits the document (Touch,
// SetFileName) and also whenever a status call is recorded on it: the
// platform keeps the outcome on the document, so a client must not take
// the echo of its own report for a change made by a person.
//
// JSON is encoded as PHP's json_encode does by default: "/" as "\/" and
// non-ASCII as \uXXXX escapes. Absent values are omitted (patient names,
// pdf.url, the whole pdf object), never null.
//
// Errors from the API are problem details (application/problem+json:
// type "/errors/<status>", title, detail, status). Status bodies must be
// sent as application/json or application/ld+json (else 415) and be a JSON
// object with a boolean "success" (else 400); "directory", "path" and
// "error" must be strings when present. An unknown uuid is 404, checked
// before the body. A successful status call answers 200
// {"uuid","success","synchronized"}.
//
// Rate limiting: a token bucket (5,000, +500 every 15 minutes, counted
// from New) charged one token per authenticated API call; 401s, injected
// faults and PDF downloads cost nothing. Every API response except
// injected faults (2xx, 401, 4xx, 429) carries x-ratelimit-limit,
// x-ratelimit-remaining and x-ratelimit-reset (epoch seconds of the next
// refill). An empty bucket answers 429 problem JSON with Retry-After in
// whole seconds until that refill (Options.OmitRetryAfter drops it).
//
// Pre-signed links expire after Options.LinkTTL (1 h) by the Options.Now
// clock, or at once with ExpireLinks. Refusals come from the "file host"
// as S3-style XML: 403 AccessDenied "Request has expired", 403
// SignatureDoesNotMatch (including a path whose %2F was decoded or that
// was normalised), 404 NoSuchKey. Files are served 200 with Content-Type
// application/pdf and Content-Length, no Range support (Accept-Ranges:
// none); the HTML error fixture is also labelled application/pdf, so only
// the bytes tell.
//
// Injected faults (Options.FaultRate, PDFFaultRate, QueueAPIFaults,
// QueuePDFFaults) strike before authentication, rate limiting and any
// effect, so a failed status call is neither recorded nor applied. 500 is
// problem JSON (XML from the file host); 502, 503 and the 504 after a
// stall are HTML pages from a "gateway"; none carries rate-limit headers
// or Retry-After. A reset closes the TCP connection with SO_LINGER 0
// before any response; a truncated PDF sends the full Content-Length,
// half the body, then closes the connection.
//
// # Documents and content
//
// Generated documents (Options.Documents over Options.Patients) have
// realistic names (accents, hyphens, apostrophes), five types and file
// names such as referral_letter.pdf or consultation_report_2026-03-02.pdf,
// repeated within a patient. HostileFixtures lists the documents
// Options.Hostile adds: names that attack paths and invalid content.
// Valid PDFs are real one-page PDFs padded to their exact size, generated
// while being sent (PDFReader, PDFBytes), so a 1 GiB document costs no
// memory; Expected reports each document's size and SHA-256.
package sim
