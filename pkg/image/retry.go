package image

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"
)

// Retry bounds how transient registry errors are retried: Attempts tries
// in all, waiting Delay, then twice that, and so on, each wait with up to
// 50% random jitter so that many nodes do not retry in step.
type Retry struct {
	Attempts int
	Delay    time.Duration
}

// DefaultRetry is three tries, 1 s then 2 s apart (plus jitter).
var DefaultRetry = Retry{Attempts: 3, Delay: time.Second}

// Do runs op until it succeeds, fails permanently, runs out of attempts or
// ctx ends. It returns op's last error.
func (r Retry) Do(ctx context.Context, op func() error) error {
	delay := r.Delay
	var err error
	for i := 0; ; i++ {
		if err = op(); err == nil || !Transient(err) || i+1 >= r.Attempts {
			return err
		}
		wait := delay + time.Duration(rand.Int64N(int64(delay/2)+1))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		delay *= 2
	}
}

// Transient reports whether err may go away by itself: a server error, a
// reset or timed-out connection, a rate limit, a registry restarting.
// Not found, access denied and malformed references are permanent.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"StatusCode: 404", "manifest unknown", "name unknown", "not found",
		"unauthorized", "denied", "StatusCode: 401", "StatusCode: 403", "invalid reference"} {
		if strings.Contains(msg, p) {
			return false
		}
	}
	for _, t := range []string{"StatusCode: 5", "500 Internal", "502 Bad Gateway", "503 Service", "504 Gateway",
		"429", "too many requests", "connection reset", "connection refused", "i/o timeout",
		"TLS handshake timeout", "unexpected EOF", "broken pipe", "no route to host"} {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}
