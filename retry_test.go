package clinicsync

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// The delays of each shape of policy the project uses, over many draws:
// the doubling, the cap, the jitter's bounds, and Retry-After as a floor.
func TestRetryPolicyDelay(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name   string
		p      RetryPolicy
		n      int
		after  time.Duration
		lo, hi time.Duration
	}{
		{"exact first", RetryPolicy{Base: 50 * ms, Max: time.Second}, 0, 0, 50 * ms, 50 * ms},
		{"exact doubled", RetryPolicy{Base: 50 * ms, Max: time.Second}, 3, 0, 400 * ms, 400 * ms},
		{"exact capped", RetryPolicy{Base: 50 * ms, Max: time.Second}, 9, 0, time.Second, time.Second},
		{"no cap", RetryPolicy{Base: time.Second}, 10, 0, 1024 * time.Second, 1024 * time.Second},
		{"no overflow", RetryPolicy{Base: time.Second}, 1000, 0, 1 << 62, 1<<63 - 1},
		{"half to all, first", RetryPolicy{Base: 250 * ms, Max: 4 * time.Second, Jitter: Jitter{0.5, 1}}, 0, 0, 125 * ms, 250 * ms},
		{"half to all, capped", RetryPolicy{Base: 250 * ms, Max: 4 * time.Second, Jitter: Jitter{0.5, 1}}, 7, 0, 2 * time.Second, 4 * time.Second},
		{"±20 %", RetryPolicy{Base: 30 * time.Second, Max: 30 * time.Minute, Jitter: Jitter{0.8, 1.2}}, 2, 0, 96 * time.Second, 144 * time.Second},
		{"±20 % capped", RetryPolicy{Base: 30 * time.Second, Max: 30 * time.Minute, Jitter: Jitter{0.8, 1.2}}, 12, 0, 24 * time.Minute, 36 * time.Minute},
		{"Retry-After is a floor", RetryPolicy{Base: 30 * time.Second, Max: 30 * time.Minute, Jitter: Jitter{0.8, 1.2}}, 0, time.Hour, time.Hour, time.Hour},
		{"Retry-After shorter", RetryPolicy{Base: 50 * ms}, 0, 10 * ms, 50 * ms, 50 * ms},
		{"server's wait only", RetryPolicy{Attempts: 4, MaxRetryAfter: 16 * time.Minute}, 2, 90 * time.Second, 90 * time.Second, 90 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 2000 {
				d := tc.p.Delay(tc.n, tc.after)
				if d < tc.lo || d > tc.hi {
					t.Fatalf("Delay(%d, %v) = %v, want within [%v, %v]", tc.n, tc.after, d, tc.lo, tc.hi)
				}
				seen[d] = true
			}
			if exact := tc.p.Jitter == (Jitter{}) || tc.after >= tc.hi; exact != (len(seen) == 1) {
				t.Fatalf("%d distinct delays in [%v, %v]", len(seen), tc.lo, tc.hi)
			}
		})
	}
}

func TestRetryPolicyAttemptsAndRetryAfter(t *testing.T) {
	p := RetryPolicy{Attempts: 4, MaxRetryAfter: time.Minute}
	for attempt, want := range map[int]bool{1: true, 3: true, 4: false, 9: false} {
		if p.Again(attempt) != want {
			t.Errorf("Again(%d) = %v with 4 attempts", attempt, !want)
		}
	}
	if !(RetryPolicy{}).Again(1000) {
		t.Error("no limit stopped")
	}
	if !p.WaitsOut(0) || !p.WaitsOut(time.Minute) || p.WaitsOut(time.Minute+1) {
		t.Error("WaitsOut does not stop at MaxRetryAfter")
	}
	if !(RetryPolicy{}).WaitsOut(24 * time.Hour) {
		t.Error("without MaxRetryAfter every wait is waited out")
	}
}

// Whether an error is fatal is decided once, from the error: the sign-in
// gone or refused, or the work canceled, wrapped or not.
func TestFatalLivesOnTheError(t *testing.T) {
	fatal := []error{
		Errorf(EUnauthorized, "Askara refused the access token; sign in again."),
		Permanent(ESignedOut, "Not signed in to Askara; sign in again.", nil),
		&Error{Code: ECanceled, Retryable: true, Err: context.Canceled},
		context.Canceled,
		fmt.Errorf("list: %w", context.DeadlineExceeded),
		fmt.Errorf("pass: %w", Errorf(ESignedOut, "Signed out.")),
	}
	for _, err := range fatal {
		if !IsFatal(err) {
			t.Errorf("%v (%s) is not fatal", err, ErrorCode(err))
		}
		var e *Error
		if errors.As(err, &e) && !e.Fatal() {
			t.Errorf("%v: Fatal() false", err)
		}
	}
	for _, err := range []error{nil, errors.New("boom"), Errorf(EForbidden, "no scope"),
		Retryable(ERateLimited, "slow down", nil), Retryable(EUnavailable, "down", nil),
		Permanent(ENotPDF, "not a PDF", nil), Retryable(EDestination, "unplugged", nil)} {
		if IsFatal(err) {
			t.Errorf("%v (%s) is fatal", err, ErrorCode(err))
		}
	}
}
