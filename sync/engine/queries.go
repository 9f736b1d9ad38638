package engine

import (
	"context"
	"time"

	"github.com/clinicsync/clinicsync/store"
)

// Queries for the UI and the CLI: they read through the engine, which owns
// the store. (The tray app, issue 4, should get these as root-package view
// types so that app never imports store.)

// Activity pages the activity log, newest first (keyset paging: page N of
// a million rows costs what page 1 costs).
func (e *Engine) Activity(ctx context.Context, q store.ActivityQuery) ([]store.Entry, error) {
	return e.store.Activity(ctx, q)
}

// Documents lists documents, most recently changed first.
func (e *Engine) Documents(ctx context.Context, f store.ItemFilter) ([]store.Item, error) {
	return e.store.List(ctx, f)
}

// Document returns one document.
func (e *Engine) Document(ctx context.Context, uuid string) (store.Item, error) {
	return e.store.Get(ctx, uuid)
}

// RetryAvailableIn is how long until a person may retry the document by
// hand again (0: now), for the Retry button's countdown.
func (e *Engine) RetryAvailableIn(ctx context.Context, uuid string) (time.Duration, error) {
	it, err := e.store.Get(ctx, uuid)
	if err != nil || it.ManualRetryAt.IsZero() {
		return 0, err
	}
	return max(it.ManualRetryAt.Add(e.cfg.ManualRetryWindow).Sub(e.store.Now()), 0), nil
}
