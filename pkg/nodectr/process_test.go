package nodectr

import (
	"os"
	"testing"
)

func TestProcessStart(t *testing.T) {
	if ProcessStart(os.Getpid()) == 0 {
		t.Fatal("no start time for this process")
	}
	if ProcessStart(os.Getpid()) != ProcessStart(os.Getpid()) {
		t.Fatal("start time changed")
	}
	if got := ProcessStart(1 << 30); got != 0 {
		t.Fatalf("start time %d for a pid that cannot exist", got)
	}
}
