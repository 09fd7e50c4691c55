// Package gres reads the GPU indices Slurm gives a step on a node, such
// as SLURM_STEP_GPUS="0,2-3". It is pure: the plugin hands the value it
// read in slurmstepd to ParseIndices and puts the result in the helper's
// request (request.NodeUp.GPUs), from which the node container gets one
// CDI device per index.
package gres

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxIndices bounds the indices of one list (no node has that many GPUs;
// a range such as 0-4000000000 must not become a list that long).
const MaxIndices = 1024

// maxDigits bounds one index: a uint32's digits at most.
const maxDigits = 10

// ParseIndices reads a Slurm index list: decimal indices and ranges
// A-B (A <= B) joined by commas, as "0", "0,1", "0-3" or "1,3-5". The
// indices come back sorted numerically, each once, in decimal without
// leading zeros. An empty value is no GPU (nil, nil); anything else that
// is not such a list is an error naming the value.
func ParseIndices(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	seen := map[uint64]bool{}
	for _, part := range strings.Split(v, ",") {
		lo, hi, err := parseRange(part)
		if err != nil {
			return nil, fmt.Errorf("GPU index list %q: %w", v, err)
		}
		if hi-lo >= MaxIndices {
			return nil, fmt.Errorf("GPU index list %q: more than %d indices", v, MaxIndices)
		}
		for i := lo; i <= hi; i++ {
			seen[i] = true
		}
		if len(seen) > MaxIndices {
			return nil, fmt.Errorf("GPU index list %q: more than %d indices", v, MaxIndices)
		}
	}
	nums := make([]uint64, 0, len(seen))
	for n := range seen {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = strconv.FormatUint(n, 10)
	}
	return out, nil
}

// parseRange reads one element of a list: N or A-B.
func parseRange(part string) (lo, hi uint64, err error) {
	a, b, isRange := strings.Cut(part, "-")
	if lo, err = parseIndex(a); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parseIndex(b); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %q ends before it starts", part)
	}
	return lo, hi, nil
}

// parseIndex reads one decimal index: digits only, no sign or space.
func parseIndex(s string) (uint64, error) {
	if s == "" || len(s) > maxDigits || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a GPU index (digits only)", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a GPU index: %w", s, err)
	}
	return n, nil
}

// IsIndex reports whether s is one index as ParseIndices writes it:
// decimal digits without a leading zero (but "0"), at most a uint32.
// The helper checks the indices of its request with it.
func IsIndex(s string) bool {
	n, err := parseIndex(s)
	return err == nil && strconv.FormatUint(n, 10) == s
}
