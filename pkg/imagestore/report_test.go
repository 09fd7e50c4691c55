package imagestore

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.Local)
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now, "just now"},
		{now.Add(time.Minute), "just now"}, // clock skew
		{now.Add(-59 * time.Second), "just now"},
		{now.Add(-time.Minute), "1 minute ago"},
		{now.Add(-59 * time.Minute), "59 minutes ago"},
		{now.Add(-time.Hour), "1 hour ago"},
		{now.Add(-47 * time.Hour), "47 hours ago"},
		{now.Add(-48 * time.Hour), "2 days ago"},
		{now.Add(-59 * 24 * time.Hour), "59 days ago"},
		{time.Date(2026, 1, 2, 9, 0, 0, 0, time.Local), "2026-01-02"},
	}
	for _, tc := range tests {
		if got := Ago(tc.t, now); got != tc.want {
			t.Errorf("Ago(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

var (
	now     = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	created = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	rowA    = NewRow(idA, []string{"r.example/a:1", "r.example/a@sha256:" + strings.Repeat("1", 64)},
		188060000, created, now.Add(-3*time.Hour), []string{"n1-7"})
	rowB = NewRow(idB, nil, 512, created, time.Time{}, nil)
)

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, []Row{rowA, rowB}, now); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"IMAGE ID      SIZE       CREATED      LAST USED    IN USE  NAMES\n" +
		"aaaaaaaaaaaa  179.3 MiB  31 days ago  3 hours ago  yes     r.example/a:1, r.example/a@sha256:" + strings.Repeat("1", 64) + "\n" +
		"bbbbbbbbbbbb  512 B      31 days ago  never        no      <none>\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteTable(&b, nil, now); err != nil || b.String() != "IMAGE ID  SIZE  CREATED  LAST USED  IN USE  NAMES\n" {
		t.Errorf("empty table = %q, %v", b.String(), err)
	}
}

func TestRowJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, []Row{rowA, rowB}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{
			"id": idA, "names": []any{"r.example/a:1", "r.example/a@sha256:" + strings.Repeat("1", 64)},
			"size": 188060000.0, "created": "2026-05-01T08:00:00Z", "last_used": "2026-06-01T09:00:00Z",
			"in_use": true, "leases": []any{"n1-7"},
		},
		{
			"id": idB, "names": []any{}, "size": 512.0, "created": "2026-05-01T08:00:00Z",
			"last_used": nil, "in_use": false, "leases": []any{},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON = %s\nwant %v", b.String(), want)
	}
}

func TestGCReport(t *testing.T) {
	r := GCReport{
		DryRun:      true,
		Removed:     []GCRow{{Row: rowB, Freed: 512}},
		BeforeBytes: 2048, AfterBytes: 1536, FreedBytes: 512, ImagesLeft: 1,
	}
	tests := []struct {
		name string
		r    GCReport
		want string
	}{
		{"dry run", r, "" +
			"IMAGE ID      SIZE   FREED  LAST USED  NAMES\n" +
			"bbbbbbbbbbbb  512 B  512 B  never      <none>\n" +
			"would remove 1 image and free 512 B: the store would hold 1.5 KiB in 1 image\n"},
		{"removed", func() GCReport { r := r; r.DryRun = false; return r }(), "" +
			"IMAGE ID      SIZE   FREED  LAST USED  NAMES\n" +
			"bbbbbbbbbbbb  512 B  512 B  never      <none>\n" +
			"removed 1 image and freed 512 B: the store holds 1.5 KiB in 1 image\n"},
		{"nothing", GCReport{Removed: []GCRow{}, BeforeBytes: 10, AfterBytes: 10, ImagesLeft: 2},
			"nothing to remove: the store holds 10 B in 2 images\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		if err := WriteGCTable(&b, tc.r, now); err != nil || b.String() != tc.want {
			t.Errorf("%s: got\n%s(err %v)\nwant\n%s", tc.name, b.String(), err, tc.want)
		}
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"dry_run", "removed", "before_bytes", "after_bytes", "freed_bytes", "images_left"} {
		if _, ok := got[k]; !ok {
			t.Errorf("GC JSON lacks %q: %s", k, b.String())
		}
	}
	removed := got["removed"].([]any)[0].(map[string]any)
	if removed["id"] != idB || removed["freed"] != 512.0 || removed["last_used"] != nil {
		t.Errorf("removed entry = %v", removed)
	}
}

// A store's user can write any bytes into its names and ids; the tables
// show them escaped, the JSON keeps them exactly, and neither passes a
// control character to the terminal.
func TestPlantedNames(t *testing.T) {
	evil := "evil\x1b[2J\x1b]0;owned\x07:1\nbbbbbbbbbbbb  1 B  forged"
	csi := "r.example/c\u009b2J:1"
	row := NewRow("\x1b[31mdeadbeef\u009b", []string{evil, csi, "r.example/ok:1"}, 512, created, time.Time{}, nil)
	var b bytes.Buffer
	if err := WriteTable(&b, []Row{row}, now); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"IMAGE ID         SIZE   CREATED      LAST USED  IN USE  NAMES\n" +
		`\x1b[31mdeadbee  512 B  31 days ago  never      no      ` +
		`evil\x1b[2J\x1b]0;owned\x07:1\nbbbbbbbbbbbb  1 B  forged, r.example/c\u009b2J:1, r.example/ok:1` + "\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
	noControls(t, "table", b.String())

	b.Reset()
	if err := WriteGCTable(&b, GCReport{Removed: []GCRow{{Row: row, Freed: 512}}, AfterBytes: 0}, now); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 3 || !strings.Contains(b.String(), `evil\x1b[2J`) {
		t.Errorf("gc table:\n%s", b.String())
	}
	noControls(t, "gc table", b.String())

	b.Reset()
	if err := WriteJSON(&b, []Row{row}); err != nil {
		t.Fatal(err)
	}
	noControls(t, "JSON", b.String())
	var back []Row
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || back[0].ID != row.ID || !reflect.DeepEqual(back[0].Names, row.Names) {
		t.Errorf("JSON does not keep the names: %+v", back)
	}
}

// noControls fails on any C0 control but newline, on DEL and on any C1
// control (U+0080 to U+009F) in s.
func noControls(t *testing.T, what, s string) {
	t.Helper()
	for _, r := range s {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			t.Fatalf("%s holds control character %U:\n%q", what, r, s)
		}
	}
}
