package main

import "testing"

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/in\040side`: "/in side", `/plain`: "/plain", `/a\134b`: `/a\b`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
