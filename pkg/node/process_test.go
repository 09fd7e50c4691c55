package node

import (
	"os"
	"testing"
)

func TestProcessStart(t *testing.T) {
	if processStart(os.Getpid()) == 0 {
		t.Fatal("no start time for this process")
	}
	if processStart(os.Getpid()) != processStart(os.Getpid()) {
		t.Fatal("start time changed")
	}
	if got := processStart(1 << 30); got != 0 {
		t.Fatalf("start time %d for a pid that cannot exist", got)
	}
}
