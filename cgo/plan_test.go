package join

import (
	"os"
	"strings"
	"testing"
)

// TestLayoutMatchesHeader fails when join.h and the Go constants drift.
func TestLayoutMatchesHeader(t *testing.T) {
	c := cLayout()
	want := map[string]int{
		"PlanVersion": PlanVersion, "ErrMax": ErrMax, "PathMax": PathMax,
		"NSUser": NSUser, "NSMnt": NSMnt, "NSNet": NSNet, "NSIPC": NSIPC, "NSUTS": NSUTS, "NSCount": NSCount,
		"sizeof.workdir": PathMax, "sizeof.error": ErrMax, "len.ns_fd": NSCount,
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s: C has %d, Go has %d", k, c[k], v)
		}
	}
}

func openNS(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open("/proc/self/ns/" + name)
	if err != nil {
		t.Skipf("cannot open namespace: %v", err)
	}
	fd, err := dupCloexec(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestInstallAndFree(t *testing.T) {
	tests := []struct {
		name    string
		plan    func(t *testing.T) Plan
		wantErr string
		wantWD  string
	}{
		{"full plan", func(t *testing.T) Plan {
			return Plan{UserNS: openNS(t, "user"), MntNS: openNS(t, "mnt"), Workdir: "/work",
				Env: []Env{{"PATH", "/usr/bin"}, {"LANG", "C.UTF-8"}}}
		}, "", "/work"},
		{"empty workdir means /", func(t *testing.T) Plan {
			return Plan{UserNS: openNS(t, "user"), MntNS: openNS(t, "mnt")}
		}, "", "/"},
		{"relative workdir rejected", func(t *testing.T) Plan {
			return Plan{UserNS: openNS(t, "user"), MntNS: openNS(t, "mnt"), Workdir: "rel"}
		}, "workdir", ""},
		{"bad fd rejected", func(t *testing.T) Plan { return Plan{UserNS: -1, MntNS: -1} }, "namespace", ""},
		{"empty env name rejected", func(t *testing.T) Plan {
			return Plan{UserNS: openNS(t, "user"), MntNS: openNS(t, "mnt"), Env: []Env{{"", "x"}}}
		}, "environment", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.plan(t)
			err := Install(p)
			s := current()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Install err = %v, want %q", err, tc.wantErr)
				}
				if s.Active || s.NS[NSUser] != -1 {
					t.Fatalf("failed Install left an active plan: %+v", s)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !s.Active || s.Workdir != tc.wantWD || len(s.Env) != len(p.Env) {
				t.Fatalf("plan = %+v", s)
			}
			for i, e := range p.Env {
				if s.Env[i] != e {
					t.Fatalf("env[%d] = %v, want %v", i, s.Env[i], e)
				}
			}
			Free()
			if s := current(); s.Active || s.NS[NSUser] != -1 || len(s.Env) != 0 {
				t.Fatalf("Free left %+v", s)
			}
		})
	}
}

func TestFailKeepsMessage(t *testing.T) {
	Fail("carina: image not found")
	s := current()
	if !s.Active || s.Error != "carina: image not found" {
		t.Fatalf("plan = %+v", s)
	}
	long := strings.Repeat("x", 3*ErrMax)
	Fail(long)
	if got := len(current().Error); got != ErrMax-1 {
		t.Fatalf("long error kept %d bytes, want truncation to %d", got, ErrMax-1)
	}
	Free()
}
