package hostlist

import (
	"reflect"
	"testing"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"n1", []string{"n1"}, false},
		{"n[1-3]", []string{"n1", "n2", "n3"}, false},
		{"n[1-2,5]", []string{"n1", "n2", "n5"}, false},
		{"gpu[01-03]", []string{"gpu01", "gpu02", "gpu03"}, false},
		{"a,n[1-2],b", []string{"a", "n1", "n2", "b"}, false},
		{"r[1-2]n[1-2]", []string{"r1n1", "r1n2", "r2n1", "r2n2"}, false},
		{"n[3-1]", nil, true},
		{"n[1-", nil, true},
		{"n]", nil, true},
		{"n[x]", nil, true},
		{"n[0-99999999]", nil, true},
	}
	for _, tc := range tests {
		got, err := Expand(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("Expand(%q) err = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Expand(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNth(t *testing.T) {
	tests := []struct {
		list    string
		n       int
		want    string
		wantErr bool
	}{
		{"n[1-3]", 0, "n1", false},
		{"n[1-3]", 2, "n3", false},
		{"n[1-3]", 3, "", true},
		{"n[1-3]", -1, "", true},
	}
	for _, tc := range tests {
		got, err := Nth(tc.list, tc.n)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Nth(%q,%d) = %q,%v", tc.list, tc.n, got, err)
		}
	}
}
