package image

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetryDo(t *testing.T) {
	transient := errors.New("dial tcp 127.0.0.1:5000: connect: connection refused")
	permanent := errors.New(`reading digest 1: StatusCode: 404, ""`)
	tests := []struct {
		name      string
		errs      []error // what successive calls return; nil = success
		attempts  int
		wantCalls int
		wantErr   error
	}{
		{"success first", []error{nil}, 3, 1, nil},
		{"transient then success", []error{transient, transient, nil}, 3, 3, nil},
		{"permanent is not retried", []error{permanent, nil}, 3, 1, permanent},
		{"attempts exhausted", []error{transient, transient, transient, nil}, 3, 3, transient},
		{"one attempt means no retry", []error{transient, nil}, 1, 1, transient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Retry{Attempts: tc.attempts, Delay: time.Millisecond}.Do(context.Background(), func() error {
				calls++
				return tc.errs[calls-1]
			})
			if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Fatalf("calls=%d err=%v, want calls=%d err=%v", calls, err, tc.wantCalls, tc.wantErr)
			}
		})
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	start := time.Now()
	err := Retry{Attempts: 10, Delay: time.Hour}.Do(ctx, func() error {
		calls++
		cancel()
		return errors.New("StatusCode: 503")
	})
	if calls != 1 || err == nil || time.Since(start) > time.Second {
		t.Fatalf("calls=%d err=%v after %s", calls, err, time.Since(start))
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"received unexpected HTTP status: 503 Service Unavailable", true},
		{`reading manifest: StatusCode: 502, "bad gateway"`, true},
		{"read tcp: connection reset by peer", true},
		{"toomanyrequests: 429 too many requests", true},
		{`StatusCode: 404, ""`, false},
		{"requested access to the resource is denied", false},
		{"something odd", false},
	}
	for _, tc := range tests {
		if got := Transient(errors.New(tc.msg)); got != tc.want {
			t.Errorf("Transient(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
	if Transient(context.DeadlineExceeded) {
		t.Error("a deadline is not transient")
	}
}
