// Package hostlist expands Slurm host lists such as "n[1-3],gpu[01-02]".
// It is pure: no I/O, no Slurm library.
package hostlist

import (
	"fmt"
	"strconv"
	"strings"
)

// maxHosts bounds an expansion so that a hostile list cannot exhaust memory.
const maxHosts = 1 << 20

// Expand returns the host names of list in order.
func Expand(list string) ([]string, error) {
	var out []string
	for _, item := range splitTop(list) {
		if item == "" {
			continue
		}
		hosts, err := expandOne(item)
		if err != nil {
			return nil, fmt.Errorf("hostlist %q: %w", list, err)
		}
		out = append(out, hosts...)
		if len(out) > maxHosts {
			return nil, fmt.Errorf("hostlist %q: more than %d hosts", list, maxHosts)
		}
	}
	return out, nil
}

// Nth returns the n-th (0-based) host of list.
func Nth(list string, n int) (string, error) {
	hosts, err := Expand(list)
	if err != nil {
		return "", err
	}
	if n < 0 || n >= len(hosts) {
		return "", fmt.Errorf("hostlist %q: no host at index %d (%d hosts)", list, n, len(hosts))
	}
	return hosts[n], nil
}

// splitTop splits on commas that are not inside brackets.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// expandOne expands one item, which may hold several bracket groups
// ("r[1-2]n[1-2]").
func expandOne(item string) ([]string, error) {
	open := strings.IndexByte(item, '[')
	if open < 0 {
		if strings.ContainsRune(item, ']') {
			return nil, fmt.Errorf("unbalanced ']' in %q", item)
		}
		return []string{item}, nil
	}
	closeIdx := strings.IndexByte(item[open:], ']')
	if closeIdx < 0 {
		return nil, fmt.Errorf("unbalanced '[' in %q", item)
	}
	closeIdx += open
	prefix, ranges, rest := item[:open], item[open+1:closeIdx], item[closeIdx+1:]
	suffixes, err := expandOne(rest)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range strings.Split(ranges, ",") {
		nums, err := expandRange(r)
		if err != nil {
			return nil, err
		}
		for _, n := range nums {
			for _, s := range suffixes {
				out = append(out, prefix+n+s)
				if len(out) > maxHosts {
					return nil, fmt.Errorf("more than %d hosts", maxHosts)
				}
			}
		}
	}
	return out, nil
}

func expandRange(r string) ([]string, error) {
	lo, hi, isRange := strings.Cut(r, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if lo == "" || hi == "" || err1 != nil || err2 != nil || a < 0 || b < a {
		return nil, fmt.Errorf("bad range %q", r)
	}
	if b-a >= maxHosts {
		return nil, fmt.Errorf("range %q too large", r)
	}
	width := len(lo)
	out := make([]string, 0, b-a+1)
	for i := a; i <= b; i++ {
		out = append(out, fmt.Sprintf("%0*d", width, i))
	}
	return out, nil
}
