package join

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/carina-hpc/carina/pkg/plan"
)

// TestConstantsFromHeader fails when a Go copy of a join.h constant comes
// back: every constant this package declares must be C.CARINA_*, taken
// from the header by cgo, and every constant the header defines must be
// taken.
func TestConstantsFromHeader(t *testing.T) {
	fset := token.NewFileSet()
	taken := map[string]string{} // C name -> Go name
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					c := ""
					if i < len(vs.Values) {
						c = headerName(vs.Values[i])
					}
					if c == "" {
						t.Errorf("%s: constant %s is not taken from join.h (want C.CARINA_...)", fset.Position(n.Pos()), n.Name)
						continue
					}
					taken[c] = n.Name
				}
			}
		}
	}
	header, err := os.ReadFile("join.h")
	if err != nil {
		t.Fatal(err)
	}
	// #define CARINA_X VALUE, and the enum's CARINA_X = VALUE (not the
	// include guard, which has no value).
	defined := regexp.MustCompile(`(?m)^#define[ \t]+(CARINA_\w+)[ \t]+\S|^[ \t]+(CARINA_\w+)[ \t]*=`).FindAllSubmatch(header, -1)
	if len(defined) == 0 {
		t.Fatal("found no constant in join.h")
	}
	for _, m := range defined {
		c := string(m[1]) + string(m[2])
		if _, ok := taken[c]; !ok {
			t.Errorf("join.h defines %s, which no Go constant takes", c)
		}
		delete(taken, c)
	}
	for c, g := range taken { // cgo found it, so the pattern above missed it
		t.Errorf("%s takes C.%s, which the test did not find in join.h", g, c)
	}
}

// headerName is X for the expression C.X when X is one of the header's
// names (CARINA_...), else "".
func headerName(e ast.Expr) string {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "C" || !strings.HasPrefix(sel.Sel.Name, "CARINA_") {
		return ""
	}
	return sel.Sel.Name
}

// TestLayoutMatchesConstants: the arrays the C compiler laid out have the
// sizes Go uses.
func TestLayoutMatchesConstants(t *testing.T) {
	c := cLayout()
	for k, v := range map[string]int{"sizeof.workdir": PathMax, "sizeof.error": ErrMax, "len.ns_fd": NSCount} {
		if c[k] != v {
			t.Errorf("%s: C has %d, Go has %d", k, c[k], v)
		}
	}
	if NSUser != 0 || NSMnt != 1 {
		t.Errorf("user (%d) and mount (%d) must be the first slots, joined in that order", NSUser, NSMnt)
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
		{"confinement kept", func(t *testing.T) Plan {
			return Plan{UserNS: openNS(t, "user"), MntNS: openNS(t, "mnt"), Confine: &plan.Confinement{
				Bounding: 0x3, Effective: 0x1, Permitted: 0x3, Inheritable: 0x2, Ambient: 0x2, NoNewPrivs: true,
				Seccomp: make([]byte, 16)}, Identity: &Identity{UIDInside: 0, UIDOutside: 1001, GIDInside: 0, GIDOutside: 1001}}
		}, "", "/"},
		{"seccomp filter of partial instructions rejected", func(t *testing.T) Plan {
			return Plan{UserNS: openNS(t, "user"), MntNS: openNS(t, "mnt"), Confine: &plan.Confinement{Seccomp: make([]byte, 12)}}
		}, "seccomp", ""},
		{"effective outside permitted rejected", func(t *testing.T) Plan {
			return Plan{UserNS: openNS(t, "user"), MntNS: openNS(t, "mnt"), Confine: &plan.Confinement{Effective: 1}}
		}, "effective", ""},
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
			if !reflect.DeepEqual(s.Identity, p.Identity) {
				t.Fatalf("identity = %+v, want %+v", s.Identity, p.Identity)
			}
			if !reflect.DeepEqual(s.Confine, p.Confine) {
				t.Fatalf("confinement = %+v, want %+v", s.Confine, p.Confine)
			}
			Free()
			if s := current(); s.Active || s.NS[NSUser] != -1 || len(s.Env) != 0 || s.Confine != nil || s.Identity != nil {
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
