package jobpin

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestPin(t *testing.T) {
	dir := Dir(t.TempDir())
	calls := 0
	resolve := func(pin string) func() (string, error) {
		return func() (string, error) { calls++; return pin, nil }
	}
	// The first step pins; a later one, after the tag moved, reuses it.
	p, reused, err := Pin(dir, "42", "reg/a:1", resolve("reg/a@sha256:1111"))
	if err != nil || reused || p != "reg/a@sha256:1111" {
		t.Fatalf("first = %q %v %v", p, reused, err)
	}
	p, reused, err = Pin(dir, "42", "reg/a:1", resolve("reg/a@sha256:2222"))
	if err != nil || !reused || p != "reg/a@sha256:1111" || calls != 1 {
		t.Fatalf("later = %q %v %v (resolves %d)", p, reused, err, calls)
	}
	// Another reference, and another job, pin for themselves.
	if p, reused, _ = Pin(dir, "42", "reg/b:1", resolve("reg/b@sha256:3333")); reused || p != "reg/b@sha256:3333" {
		t.Errorf("other reference = %q %v", p, reused)
	}
	if p, reused, _ = Pin(dir, "43", "reg/a:1", resolve("reg/a@sha256:2222")); reused || p != "reg/a@sha256:2222" {
		t.Errorf("other job = %q %v", p, reused)
	}
	// A failed resolve records nothing.
	if _, _, err := Pin(dir, "44", "reg/a:1", func() (string, error) { return "", errors.New("down") }); err == nil {
		t.Error("a failed resolve gave no error")
	}
	if _, err := os.Stat(filepath.Join(dir, "44.json")); !os.IsNotExist(err) {
		t.Errorf("a failed resolve left a pin file: %v", err)
	}
	// A job id that is not one is refused (no path can be formed from it).
	for _, bad := range []string{"", "../1", "1/2", "abc"} {
		if _, _, err := Pin(dir, bad, "reg/a:1", resolve("x")); err == nil {
			t.Errorf("job %q accepted", bad)
		}
	}
	// A garbled file is not trusted: the step pins again.
	if err := os.WriteFile(filepath.Join(dir, "45.json"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, reused, _ = Pin(dir, "45", "reg/a:1", resolve("reg/a@sha256:5555")); reused || p != "reg/a@sha256:5555" {
		t.Errorf("garbled file = %q %v", p, reused)
	}
}

func TestPinConcurrentStepsResolveOnce(t *testing.T) {
	dir := Dir(t.TempDir())
	var mu sync.Mutex
	calls := 0
	var wg sync.WaitGroup
	pins := make([]string, 8)
	for i := range pins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pins[i], _, _ = Pin(dir, "7", "reg/a:1", func() (string, error) {
				mu.Lock()
				defer mu.Unlock()
				calls++
				time.Sleep(10 * time.Millisecond)
				return "reg/a@sha256:7777", nil
			})
		}()
	}
	wg.Wait()
	if calls != 1 {
		t.Errorf("%d resolves for 8 steps starting together, want 1", calls)
	}
	for _, p := range pins {
		if p != "reg/a@sha256:7777" {
			t.Errorf("pin %q", p)
		}
	}
}

func TestPrune(t *testing.T) {
	dir := Dir(t.TempDir())
	for _, job := range []string{"1", "2"} {
		if _, _, err := Pin(dir, job, "reg/a:1", func() (string, error) { return "p", nil }); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-MaxAge - time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "1.json"), old, old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Pin(dir, "3", "reg/a:1", func() (string, error) { return "p", nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "1.json")); !os.IsNotExist(err) {
		t.Errorf("an old job's pins survive: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "2.json")); err != nil {
		t.Errorf("a recent job's pins are gone: %v", err)
	}
}
