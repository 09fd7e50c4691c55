package imagestore

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Layer is one layer of a stored image. Images that share a layer (the
// same base) list the same ID, and the layer's bytes count once.
type Layer struct {
	ID   string
	Size int64
}

// Image is what garbage collection knows of a stored image.
type Image struct {
	ID string
	// Size is the image's bytes as if it were alone in the store: its
	// layers and its metadata (containers/storage's ImageSize).
	Size     int64
	Created  time.Time
	LastUsed time.Time // zero: no job ever started on it
	InUse    bool
	// Layers, when known, lets shared layers count once in the store's
	// total and in what removing an image frees.
	Layers []Layer
}

// Keep bounds what garbage collection leaves in a store. A negative bound
// is no bound; with no bound at all nothing is removed.
type Keep struct {
	Bytes  int64 // at most this many bytes of images
	Images int   // at most this many images
}

// KeepFor is the Keep of `carina gc`: at most bytes of images (a size
// ParseBytes reads; "" for no bound) or at most images images (-1 for no
// bound). Given neither bound, gc removes every unused image.
func KeepFor(bytes string, images int) (Keep, error) {
	keep := Keep{Bytes: -1, Images: images}
	switch {
	case bytes != "":
		n, err := ParseBytes(bytes)
		if err != nil {
			return Keep{}, err
		}
		keep.Bytes = n
	case images < 0:
		keep.Bytes = 0
	}
	return keep, nil
}

// GCPlan is the outcome of PlanGC.
type GCPlan struct {
	Remove []Image // in removal order, least recently used first
	// Freed is what each removal frees: the image's metadata and the
	// layers no image left uses any more.
	Freed         []int64
	Before, After int64 // the store's image bytes before and after
	Left          int   // images left
}

// ownBytes is what an image takes beyond its layers.
func ownBytes(im Image) int64 {
	var layers int64
	for _, l := range im.Layers {
		layers += l.Size
	}
	if im.Size < layers {
		return 0
	}
	return im.Size - layers
}

// TotalBytes is what the images take together, a shared layer once.
func TotalBytes(images []Image) int64 {
	seen := map[string]bool{}
	var total int64
	for _, im := range images {
		total += ownBytes(im)
		for _, l := range im.Layers {
			if !seen[l.ID] {
				seen[l.ID] = true
				total += l.Size
			}
		}
	}
	return total
}

// GCOrder sorts images in the order garbage collection considers them:
// least recently used first (never used first of all), then oldest
// created, then by id so that the order is stable.
func GCOrder(images []Image) {
	sort.SliceStable(images, func(i, j int) bool {
		a, b := images[i], images[j]
		if !a.LastUsed.Equal(b.LastUsed) {
			return a.LastUsed.Before(b.LastUsed)
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ID < b.ID
	})
}

// PlanGC chooses the images to remove so that the store meets keep:
// images not in use, in GCOrder, until both bounds hold. Images in use
// are never chosen, so a bound that only they exceed is left unmet.
func PlanGC(images []Image, keep Keep) GCPlan {
	refs := map[string]int{}
	for _, im := range images {
		for _, l := range im.Layers {
			refs[l.ID]++
		}
	}
	p := GCPlan{Before: TotalBytes(images), Left: len(images), Remove: []Image{}, Freed: []int64{}}
	p.After = p.Before
	met := func() bool {
		return (keep.Bytes < 0 || p.After <= keep.Bytes) && (keep.Images < 0 || p.Left <= keep.Images)
	}
	candidates := make([]Image, 0, len(images))
	for _, im := range images {
		if !im.InUse {
			candidates = append(candidates, im)
		}
	}
	GCOrder(candidates)
	for _, im := range candidates {
		if met() {
			break
		}
		freed := ownBytes(im)
		for _, l := range im.Layers {
			if refs[l.ID]--; refs[l.ID] == 0 {
				freed += l.Size
			}
		}
		p.Remove = append(p.Remove, im)
		p.Freed = append(p.Freed, freed)
		p.After -= freed
		p.Left--
	}
	return p
}

var byteUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}

// byteShifts maps the units ParseBytes accepts (upper case) to powers of 2.
var byteShifts = func() map[string]uint {
	m := map[string]uint{"": 0, "B": 0}
	for i, p := range []string{"K", "M", "G", "T", "P"} {
		for _, suffix := range []string{"", "B", "I", "IB"} {
			m[p+suffix] = uint(10 * (i + 1))
		}
	}
	return m
}()

// ParseBytes reads a byte count: a number with an optional unit, K, M, G,
// T or P (also KB, KiB...: all are powers of 1024, as in Slurm's --mem).
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	end := 0
	for end < len(t) && (t[end] >= '0' && t[end] <= '9' || t[end] == '.') {
		end++
	}
	sh, ok := byteShifts[strings.ToUpper(strings.TrimSpace(t[end:]))]
	if end == 0 || !ok {
		return 0, fmt.Errorf("invalid byte count %q (want e.g. 500000000, 800M or 20G)", s)
	}
	f, err := strconv.ParseFloat(t[:end], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid byte count %q: %w", s, err)
	}
	v := f * float64(uint64(1)<<sh)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("byte count %q is too large", s)
	}
	return int64(v), nil
}

// HumanBytes writes n with a binary unit and one decimal (e.g. 179.3 MiB).
func HumanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n), 0
	for v >= 1024 && i < len(byteUnits)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + byteUnits[i]
}
