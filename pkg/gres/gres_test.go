package gres

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseIndices(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{"0", []string{"0"}, ""},
		{"0,1", []string{"0", "1"}, ""},
		{"0-3", []string{"0", "1", "2", "3"}, ""},
		{"1,3-5", []string{"1", "3", "4", "5"}, ""},
		{"3,1", []string{"1", "3"}, ""},
		{"10,9,2", []string{"2", "9", "10"}, ""}, // numerically, not as strings
		{"1,1,0-2", []string{"0", "1", "2"}, ""},
		{"7-7", []string{"7"}, ""},
		{"007", []string{"7"}, ""},
		{"4294967295", []string{"4294967295"}, ""},
		{"0-1023", seq(1024), ""},
		{"0-1024", nil, `GPU index list "0-1024": more than 1024 indices`},
		{"0-4000000000", nil, "more than 1024 indices"},
		{"0-600,601-1100", nil, "more than 1024 indices"},
		{"4294967296", nil, `GPU index list "4294967296": "4294967296" is not a GPU index`},
		{"3-1", nil, `GPU index list "3-1": range "3-1" ends before it starts`},
		{",", nil, `GPU index list ",": "" is not a GPU index (digits only)`},
		{"0,", nil, `"" is not a GPU index`},
		{"-1", nil, `"" is not a GPU index`},
		{"1-", nil, `"" is not a GPU index`},
		{"1-2-3", nil, `"2-3" is not a GPU index`},
		{" 1", nil, `" 1" is not a GPU index`},
		{"+1", nil, `"+1" is not a GPU index`},
		{"0x1", nil, `"0x1" is not a GPU index`},
		{"gpu:0", nil, `GPU index list "gpu:0": "gpu:0" is not a GPU index`},
		{"nvidia0", nil, "is not a GPU index"},
		{"/dev/nvidia0", nil, "is not a GPU index"},
		{"1;2", nil, "is not a GPU index"},
		{"0,1\n", nil, "is not a GPU index"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIndices(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
					t.Fatalf("ParseIndices(%q) = %q, %v; want error %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseIndices(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestIsIndex(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "1": true, "15": true, "4294967295": true,
		"": false, "01": false, "00": false, "-1": false, "1 ": false, "a": false, "4294967296": false, "1,2": false,
	} {
		if got := IsIndex(s); got != want {
			t.Errorf("IsIndex(%q) = %v, want %v", s, got, want)
		}
	}
}

func seq(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}
