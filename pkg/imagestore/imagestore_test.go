package imagestore

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	idA = strings.Repeat("a", 64)
	idB = strings.Repeat("b", 64)
)

func TestValidation(t *testing.T) {
	ids := []struct {
		id string
		ok bool
	}{
		{idA, true},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{strings.Repeat("A", 64), false},
		{strings.Repeat("a", 63), false},
		{strings.Repeat("a", 65), false},
		{"../" + strings.Repeat("a", 61), false},
		{"", false},
		{strings.Repeat("g", 64), false},
	}
	for _, tc := range ids {
		if err := ValidImageID(tc.id); (err == nil) != tc.ok {
			t.Errorf("ValidImageID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
	nodes := []struct {
		node string
		ok   bool
	}{
		{"n1", true},
		{"gpu-01.cluster_a", true},
		{"N", true},
		{strings.Repeat("n", 64), true},
		{strings.Repeat("n", 65), false},
		{"", false},
		{"-n1", false},
		{".n1", false},
		{"..", false},
		{"n1/../x", false},
		{"n 1", false},
		{"n1\n", false},
	}
	for _, tc := range nodes {
		if err := ValidNode(tc.node); (err == nil) != tc.ok {
			t.Errorf("ValidNode(%q) = %v, want ok=%v", tc.node, err, tc.ok)
		}
	}
}

func TestInvalidArgumentsTouchNothing(t *testing.T) {
	dir := t.TempDir()
	calls := []struct {
		name string
		call func() error
	}{
		{"Lease bad id", func() error { return Lease(dir, "../../x", "n1", 1) }},
		{"Lease bad node", func() error { return Lease(dir, idA, "../n1", 1) }},
		{"Lease empty dir", func() error { return Lease("", idA, "n1", 1) }},
		{"Release bad node", func() error { return Release(dir, "n1/..", 1) }},
		{"InUse bad id", func() error { _, err := InUse(dir, "x"); return err }},
		{"LastUsed bad id", func() error { _, err := LastUsed(dir, "x"); return err }},
		{"Forget bad id", func() error { return Forget(dir, "..") }},
		{"Touch bad id", func() error { return Touch(dir, idA+"/x") }},
		{"StaleLeases empty dir", func() error { _, err := StaleLeases("", time.Hour); return err }},
	}
	for _, c := range calls {
		if err := c.call(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("invalid calls created %v", entries)
	}
}

func TestLeaseLifecycle(t *testing.T) {
	dir := t.TempDir()
	type lease struct {
		id, node string
		job      uint32
	}
	tests := []struct {
		name     string
		leases   []lease
		release  []lease // id unused
		inUseA   bool
		inUseB   bool
		leasesA  []string
		leaseDir bool // leases/<idA> still exists
	}{
		{"nothing", nil, nil, false, false, nil, false},
		{"one lease", []lease{{idA, "n1", 7}}, nil, true, false, []string{"n1-7"}, true},
		{"leased then released", []lease{{idA, "n1", 7}}, []lease{{"", "n1", 7}}, false, false, nil, false},
		{"two nodes, one released", []lease{{idA, "n1", 7}, {idA, "n2", 7}}, []lease{{"", "n1", 7}},
			true, false, []string{"n2-7"}, true},
		{"release of another job keeps the lease", []lease{{idA, "n1", 7}}, []lease{{"", "n1", 8}},
			true, false, []string{"n1-7"}, true},
		{"a job with two images releases both", []lease{{idA, "n1", 7}, {idB, "n1", 7}, {idA, "n1", 9}},
			[]lease{{"", "n1", 7}}, true, false, []string{"n1-9"}, true},
		{"same lease twice", []lease{{idA, "n-1", 4294967295}, {idA, "n-1", 4294967295}}, nil,
			true, false, []string{"n-1-4294967295"}, true},
		{"node named like a prefix", []lease{{idA, "n1", 7}, {idA, "n1-7", 7}}, []lease{{"", "n1", 7}},
			true, false, []string{"n1-7-7"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, l := range tc.leases {
				if err := Lease(d, l.id, l.node, l.job); err != nil {
					t.Fatalf("Lease: %v", err)
				}
			}
			for _, l := range tc.release {
				if err := Release(d, l.node, l.job); err != nil {
					t.Fatalf("Release: %v", err)
				}
			}
			if got, err := InUse(d, idA); err != nil || got != tc.inUseA {
				t.Errorf("InUse(A) = %v, %v; want %v", got, err, tc.inUseA)
			}
			if got, err := InUse(d, idB); err != nil || got != tc.inUseB {
				t.Errorf("InUse(B) = %v, %v; want %v", got, err, tc.inUseB)
			}
			if got, err := Leases(d, idA); err != nil || !reflect.DeepEqual(got, tc.leasesA) {
				t.Errorf("Leases(A) = %v, %v; want %v", got, err, tc.leasesA)
			}
			_, err := os.Stat(filepath.Join(d, "carina", "leases", idA))
			if (err == nil) != tc.leaseDir {
				t.Errorf("lease dir exists = %v, want %v", err == nil, tc.leaseDir)
			}
			used, err := LastUsed(d, idA)
			if err != nil || used.IsZero() != (len(tc.leases) == 0) {
				t.Errorf("LastUsed(A) = %v, %v after %d leases", used, err, len(tc.leases))
			}
		})
	}
}

func TestLastUsedAndForget(t *testing.T) {
	dir := t.TempDir()
	if got, err := LastUsed(dir, idA); err != nil || !got.IsZero() {
		t.Fatalf("LastUsed of a never used image = %v, %v; want zero", got, err)
	}
	before := time.Now().Add(-time.Second)
	if err := Lease(dir, idA, "n1", 1); err != nil {
		t.Fatal(err)
	}
	first, err := LastUsed(dir, idA)
	if err != nil || first.Before(before) {
		t.Fatalf("LastUsed after Lease = %v, %v; want after %v", first, err, before)
	}
	// A later lease (or Touch) moves the time forward.
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "carina", "used", idA), old, old); err != nil {
		t.Fatal(err)
	}
	if err := Touch(dir, idA); err != nil {
		t.Fatal(err)
	}
	if got, _ := LastUsed(dir, idA); !got.After(old.Add(time.Hour)) {
		t.Errorf("Touch did not move LastUsed forward: %v", got)
	}
	if err := Forget(dir, idA); err != nil {
		t.Fatal(err)
	}
	if got, err := LastUsed(dir, idA); err != nil || !got.IsZero() {
		t.Errorf("LastUsed after Forget = %v, %v; want zero", got, err)
	}
	if in, err := InUse(dir, idA); err != nil || in {
		t.Errorf("InUse after Forget = %v, %v", in, err)
	}
	if err := Forget(dir, idA); err != nil {
		t.Errorf("second Forget: %v", err)
	}
	if err := Release(t.TempDir(), "n1", 1); err != nil {
		t.Errorf("Release in an empty store: %v", err)
	}
}

func TestStaleLeases(t *testing.T) {
	dir := t.TempDir()
	for _, l := range []struct {
		id, node string
		age      time.Duration
	}{
		{idA, "n1", 0},
		{idA, "n2", 10 * 24 * time.Hour},
		{idB, "n3", 3 * 24 * time.Hour},
	} {
		if err := Lease(dir, l.id, l.node, 5); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-l.age)
		if err := os.Chtimes(filepath.Join(dir, "carina", "leases", l.id, l.node+"-5"), at, at); err != nil {
			t.Fatal(err)
		}
	}
	p := func(id, name string) string { return filepath.Join(dir, "carina", "leases", id, name) }
	tests := []struct {
		older time.Duration
		want  []string
	}{
		{time.Hour, []string{p(idA, "n2-5"), p(idB, "n3-5")}},
		{7 * 24 * time.Hour, []string{p(idA, "n2-5")}},
		{30 * 24 * time.Hour, nil},
	}
	for _, tc := range tests {
		got, err := StaleLeases(dir, tc.older)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("StaleLeases(%v) = %v, %v; want %v", tc.older, got, err, tc.want)
		}
	}
	if got, err := StaleLeases(t.TempDir(), time.Hour); err != nil || got != nil {
		t.Errorf("StaleLeases of an empty store = %v, %v", got, err)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u, err := Lock(path) // a second open file description: blocks
		if err != nil {
			t.Error(err)
		} else {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("second Lock did not wait for the first")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("second Lock not granted after unlock")
	}
	if _, err := Lock(filepath.Join(t.TempDir(), "missing", LockFile)); err == nil {
		t.Error("Lock in a missing directory succeeded")
	}
}

// TestKeepLease: a kept container's lease keeps its image in use across
// the job leases coming and going, is never listed as stale, and goes with
// ReleaseKept alone.
func TestKeepLease(t *testing.T) {
	dir := t.TempDir()
	id := strings.Repeat("c", 64)
	const ctr = "carina-g-n1-dev"
	if err := Lease(dir, id, "n1", 7); err != nil {
		t.Fatal(err)
	}
	if err := KeepLease(dir, id, ctr); err != nil {
		t.Fatal(err)
	}
	if err := Release(dir, "n1", 7); err != nil {
		t.Fatal(err)
	}
	if got, err := Leases(dir, id); err != nil || len(got) != 1 || got[0] != "kept@"+ctr {
		t.Fatalf("leases after the job's release = %v, %v; want the kept one", got, err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "carina", "leases", id, "kept@"+ctr), old, old); err != nil {
		t.Fatal(err)
	}
	if got, err := StaleLeases(dir, time.Hour); err != nil || len(got) != 0 {
		t.Errorf("StaleLeases = %v, %v; a kept lease is not stale", got, err)
	}
	if err := ReleaseKept(dir, "carina-g-n1-other"); err != nil {
		t.Fatal(err)
	}
	if in, _ := InUse(dir, id); !in {
		t.Error("another container's release freed the image")
	}
	if err := ReleaseKept(dir, ctr); err != nil {
		t.Fatal(err)
	}
	if in, err := InUse(dir, id); in || err != nil {
		t.Errorf("InUse after ReleaseKept = %v, %v", in, err)
	}
	for _, bad := range []string{"", "../x", "a/b", strings.Repeat("a", 300)} {
		if KeepLease(dir, id, bad) == nil || ReleaseKept(dir, bad) == nil {
			t.Errorf("container name %q accepted", bad)
		}
	}
}
