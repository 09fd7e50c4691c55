package imagestore

import (
	"reflect"
	"testing"
	"time"
)

func TestPlanGC(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }
	// Four images of 100 bytes each, no layer information.
	simple := []Image{
		{ID: "recent", Size: 100, LastUsed: day(9)},
		{ID: "never", Size: 100},
		{ID: "old", Size: 100, LastUsed: day(1)},
		{ID: "busy", Size: 100, LastUsed: day(0), InUse: true},
	}
	// base is shared: 1000 bytes once; each image adds its own layer and
	// 10 bytes of metadata.
	base := Layer{ID: "base", Size: 1000}
	shared := []Image{
		{ID: "x", Size: 1000 + 200 + 10, LastUsed: day(1), Layers: []Layer{base, {"x1", 200}}},
		{ID: "y", Size: 1000 + 300 + 10, LastUsed: day(2), Layers: []Layer{base, {"y1", 300}}},
		{ID: "z", Size: 500 + 10, LastUsed: day(3), Layers: []Layer{{"z1", 500}}},
	}
	tests := []struct {
		name       string
		images     []Image
		keep       Keep
		wantRemove []string
		wantFreed  []int64
		before     int64
		after      int64
		left       int
	}{
		{"no bound removes nothing", simple, Keep{-1, -1}, []string{}, []int64{}, 400, 400, 4},
		{"keep 0 bytes removes every unused image, never used first", simple, Keep{0, -1},
			[]string{"never", "old", "recent"}, []int64{100, 100, 100}, 400, 100, 1},
		{"bytes bound already met", simple, Keep{400, -1}, []string{}, []int64{}, 400, 400, 4},
		{"bytes bound just above", simple, Keep{399, -1}, []string{"never"}, []int64{100}, 400, 300, 3},
		{"keep 2 images", simple, Keep{-1, 2}, []string{"never", "old"}, []int64{100, 100}, 400, 200, 2},
		{"keep 0 images cannot remove the one in use", simple, Keep{-1, 0},
			[]string{"never", "old", "recent"}, []int64{100, 100, 100}, 400, 100, 1},
		{"both bounds: the stricter wins", simple, Keep{350, 2}, []string{"never", "old"}, []int64{100, 100}, 400, 200, 2},
		{"shared layer counts once", shared, Keep{-1, -1}, []string{}, []int64{}, 1000 + 200 + 300 + 500 + 30, 2030, 3},
		{"removing x frees only its own layer", shared, Keep{1900, -1}, []string{"x"}, []int64{210}, 2030, 1820, 2},
		{"removing x then y frees the base", shared, Keep{600, -1}, []string{"x", "y"}, []int64{210, 1310}, 2030, 510, 1},
		{"empty store", nil, Keep{0, 0}, []string{}, []int64{}, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]Image(nil), tc.images...)
			p := PlanGC(in, tc.keep)
			var ids []string
			for _, im := range p.Remove {
				ids = append(ids, im.ID)
				if im.InUse {
					t.Errorf("plan removes %s, which is in use", im.ID)
				}
			}
			if ids == nil {
				ids = []string{}
			}
			if !reflect.DeepEqual(ids, tc.wantRemove) || !reflect.DeepEqual(p.Freed, tc.wantFreed) {
				t.Errorf("remove %v freeing %v, want %v freeing %v", ids, p.Freed, tc.wantRemove, tc.wantFreed)
			}
			if p.Before != tc.before || p.After != tc.after || p.Left != tc.left {
				t.Errorf("before/after/left = %d/%d/%d, want %d/%d/%d", p.Before, p.After, p.Left, tc.before, tc.after, tc.left)
			}
			if !reflect.DeepEqual(in, tc.images) {
				t.Errorf("PlanGC reordered its input")
			}
		})
	}
}

func TestGCOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	images := []Image{
		{ID: "c", LastUsed: t0.Add(time.Hour)},
		{ID: "b", Created: t0.Add(time.Minute)},
		{ID: "a2", Created: t0},
		{ID: "a1", Created: t0},
		{ID: "d", LastUsed: t0},
	}
	GCOrder(images)
	var got []string
	for _, im := range images {
		got = append(got, im.ID)
	}
	want := []string{"a1", "a2", "b", "d", "c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GCOrder = %v, want %v", got, want)
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"123456", 123456, true},
		{"1K", 1024, true},
		{"1k", 1024, true},
		{"1KiB", 1024, true},
		{"1KB", 1024, true},
		{"800M", 800 << 20, true},
		{"20G", 20 << 30, true},
		{"20 GiB", 20 << 30, true},
		{"1.5G", 3 << 29, true},
		{"2T", 2 << 40, true},
		{"1P", 1 << 50, true},
		{" 5B ", 5, true},
		{"", 0, false},
		{"G", 0, false},
		{"-1", 0, false},
		{"1X", 0, false},
		{"1GG", 0, false},
		{"1.2.3", 0, false},
		{"99999999P", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseBytes(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{188060000, "179.3 MiB"},
		{5 << 30, "5.0 GiB"},
		{3 << 50, "3.0 PiB"},
		{3 << 60, "3072.0 PiB"},
	}
	for _, tc := range tests {
		if got := HumanBytes(tc.in); got != tc.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKeepFor(t *testing.T) {
	tests := []struct {
		bytes  string
		images int
		want   Keep
		err    bool
	}{
		{"", -1, Keep{Bytes: 0, Images: -1}, false}, // no bound: every unused image goes
		{"50G", -1, Keep{Bytes: 50 << 30, Images: -1}, false},
		{"0", -1, Keep{Bytes: 0, Images: -1}, false},
		{"", 3, Keep{Bytes: -1, Images: 3}, false},
		{"", 0, Keep{Bytes: -1, Images: 0}, false},
		{"lots", -1, Keep{}, true},
	}
	for _, tc := range tests {
		got, err := KeepFor(tc.bytes, tc.images)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("KeepFor(%q, %d) = %+v, %v; want %+v (error %v)", tc.bytes, tc.images, got, err, tc.want, tc.err)
		}
	}
}
