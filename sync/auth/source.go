package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
)

// Source is the token source the API client uses. It keeps the access token
// in memory and refreshes it with the stored refresh token when it expires
// or the API refuses it. Refresh tokens are single-use: the new one is
// written to the store before the new access token is handed out, and one
// mutex makes concurrent callers share one refresh, so the same refresh
// token is never sent twice.
type Source struct {
	cfg   *oauth2.Config
	store TokenStore
	log   *slog.Logger
	ctx   context.Context // carries the HTTP client for the token endpoint

	mu        sync.Mutex
	tok       *oauth2.Token // current access token (and the refresh token it came with)
	account   string
	refreshes int
	signedOut error
	failedRT  string // the refresh token the server refused
}

// NewSource builds a Source. ctx carries the HTTP client for the token
// endpoint (WithClient): the one client of sync/netclient.
func NewSource(ctx context.Context, cfg Config, store TokenStore, log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg.OAuth2(), store: store, log: log, ctx: ctx}
}

// Adopt installs a token just obtained by a sign-in, saving its refresh
// token first.
func (s *Source) Adopt(tok *oauth2.Token, account string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok == nil || tok.RefreshToken == "" {
		return clinicsync.Errorf(clinicsync.EBadResponse, "Askara gave no refresh token; the app could not stay signed in.")
	}
	if err := s.store.Save(&Saved{RefreshToken: tok.RefreshToken, Account: account}); err != nil {
		return err
	}
	s.tok, s.account, s.signedOut = tok, account, nil
	return nil
}

// Refreshes counts the refresh grants this source made.
func (s *Source) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Token returns a valid access token, refreshing it if needed.
func (s *Source) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.Valid() {
		return s.tok, nil
	}
	return s.refreshLocked()
}

// Invalidate tells the source the API refused tok (HTTP 401): the next
// Token call refreshes, unless another caller already did.
func (s *Source) Invalidate(tok *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && tok != nil && s.tok.AccessToken == tok.AccessToken {
		expired := *s.tok
		expired.Expiry = time.Unix(1, 0)
		s.tok = &expired
	}
}

func (s *Source) refreshLocked() (*oauth2.Token, error) {
	if s.signedOut != nil {
		// A sign-in in another process (clinicsync login while `run` or the
		// tray is running) leaves a different refresh token in the store.
		saved, err := s.store.Load()
		if err != nil || saved == nil || saved.RefreshToken == "" || saved.RefreshToken == s.failedRT {
			return nil, s.signedOut
		}
		s.signedOut, s.tok = nil, nil
	}
	rt := ""
	if s.tok != nil {
		rt = s.tok.RefreshToken
	}
	if rt == "" {
		saved, err := s.store.Load()
		if err != nil {
			return nil, err
		}
		if saved == nil || saved.RefreshToken == "" {
			return nil, clinicsync.Errorf(clinicsync.ESignedOut, "Not signed in to Askara: sign in from the Account tab.")
		}
		rt, s.account = saved.RefreshToken, saved.Account
	}
	// A fresh token source with only the refresh token: x/oauth2 does the
	// standard form post of grant_type=refresh_token.
	nt, err := s.cfg.TokenSource(s.ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_client" ||
			re.ErrorCode == "unauthorized_client") {
			s.failedRT = rt
			s.signedOut = &clinicsync.Error{Code: clinicsync.ESignedOut,
				Message: "Askara ended the sign-in (revoked, expired after 30 days offline, or used elsewhere); sign in again."}
			s.tok = nil
			s.log.Debug("refresh refused", "error_code", re.ErrorCode)
			return nil, s.signedOut
		}
		if ne := networkCause(err); ne != nil {
			return nil, ne
		}
		return nil, clinicsync.Retryable(clinicsync.EUnavailable, "Askara's sign-in service could not be reached.", errors.New(scrubRetrieve(err)))
	}
	s.refreshes++
	if nt.RefreshToken == "" {
		nt.RefreshToken = rt // servers without rotation keep the old one valid
	}
	// Persist the new refresh token before anyone uses the new access
	// token: the old one is now spent, and a crash must not leave only it.
	if err := s.store.Save(&Saved{RefreshToken: nt.RefreshToken, Account: s.account}); err != nil {
		s.log.Warn("could not save the new refresh token", "code", clinicsync.ErrorCode(err))
		s.tok = nt // keep working in memory; the next start will ask to sign in
		return nil, err
	}
	s.tok = nt
	return nt, nil
}

// scrubRetrieve keeps the error code of a token-endpoint error, never its body.
func scrubRetrieve(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return "token endpoint: " + re.ErrorCode
		}
		if re.Response != nil {
			return "token endpoint: HTTP " + re.Response.Status
		}
	}
	return "token endpoint unreachable"
}

// SignOut forgets the tokens held in memory: calls fail with ESignedOut
// until a new sign-in is saved to the store (which the caller clears).
func (s *Source) SignOut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok, s.account, s.failedRT = nil, "", ""
	s.signedOut = clinicsync.Errorf(clinicsync.ESignedOut, "Signed out of Askara: sign in to resume.")
}

// Account is the account name saved with the sign-in ("" if unknown).
func (s *Source) Account() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.account == "" && s.signedOut == nil {
		if saved, err := s.store.Load(); err == nil && saved != nil {
			s.account = saved.Account
		}
	}
	return s.account
}
