package imagestore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/carina-hpc/carina/pkg/safetext"
)

// Row is one image as `carina images` (and `carina gc`) reports it. The
// JSON form is stable; its fields are:
//
//	id         string         the full image id (64 hexadecimal digits)
//	names      [string]       its names, REPO:TAG and REPO@DIGEST ([] when none)
//	size       integer        bytes of its layers and metadata, as if alone in the store
//	created    string         RFC 3339 creation time from the image's configuration
//	last_used  string | null  RFC 3339 time a job last started on it; null: never
//	in_use     bool           a job holds a lease on it (gc and rmi leave it)
//	leases     [string]       the leases, "NODE-JOB" ([] when none)
type Row struct {
	ID       string     `json:"id"`
	Names    []string   `json:"names"`
	Size     int64      `json:"size"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
	InUse    bool       `json:"in_use"`
	Leases   []string   `json:"leases"`
}

// NewRow fills a Row; lastUsed zero means never, and nil slices become
// empty ones so that the JSON keeps its shape.
func NewRow(id string, names []string, size int64, created, lastUsed time.Time, leases []string) Row {
	r := Row{ID: id, Names: names, Size: size, Created: created, InUse: len(leases) > 0, Leases: leases}
	if !lastUsed.IsZero() {
		t := lastUsed
		r.LastUsed = &t
	}
	if r.Names == nil {
		r.Names = []string{}
	}
	if r.Leases == nil {
		r.Leases = []string{}
	}
	return r
}

// ShortID is the 12-digit form of an image id used in tables.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Ago writes t relative to now for a table: "never" for the zero time,
// then "just now", "N minutes ago", "N hours ago", "N days ago", and the
// date beyond 60 days.
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return strconv.Itoa(n) + " " + unit + "s ago"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 60*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	}
	return t.Local().Format("2006-01-02")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "<none>"
	}
	escaped := make([]string, len(names))
	for i, n := range names {
		escaped[i] = safetext.Escape(n)
	}
	return strings.Join(escaped, ", ")
}

// tableID is an id as a table shows it: short, and escaped like every
// name read from a store, which its user can write (safetext.Escape).
func tableID(id string) string { return safetext.Escape(ShortID(id)) }

// WriteTable writes rows as an aligned table, one line per image, names
// last because they are long.
func WriteTable(w io.Writer, rows []Row, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE ID\tSIZE\tCREATED\tLAST USED\tIN USE\tNAMES")
	for _, r := range rows {
		var last time.Time
		if r.LastUsed != nil {
			last = *r.LastUsed
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", tableID(r.ID), HumanBytes(r.Size),
			Ago(r.Created, now), Ago(last, now), yesNo(r.InUse), joinNames(r.Names))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}

// WriteJSON writes v as indented JSON followed by a newline, with the
// characters encoding/json leaves raw but a terminal may act on (DEL, C1
// controls, other non-printing runes) escaped too (safetext.JSON).
func WriteJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	if _, err := w.Write(safetext.JSON(b.Bytes())); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// GCRow is a removed (or, in a dry run, removable) image.
type GCRow struct {
	Row
	Freed int64 `json:"freed"` // bytes its removal frees (shared layers still used are not)
}

// GCReport is what `carina gc` prints. The JSON form is stable; its fields
// are those of Row for each removed image plus:
//
//	dry_run       bool     nothing was removed, removed lists what would be
//	removed       [object] the images removed, in order ([] when none), each a Row plus
//	                       freed (integer, bytes its removal frees)
//	before_bytes  integer  the store's image bytes before (shared layers once)
//	after_bytes   integer  the same after
//	freed_bytes   integer  before_bytes - after_bytes
//	images_left   integer  images left in the store
type GCReport struct {
	DryRun      bool    `json:"dry_run"`
	Removed     []GCRow `json:"removed"`
	BeforeBytes int64   `json:"before_bytes"`
	AfterBytes  int64   `json:"after_bytes"`
	FreedBytes  int64   `json:"freed_bytes"`
	ImagesLeft  int     `json:"images_left"`
}

// WriteGCTable writes a GCReport for people: the removed images, then one
// summary line.
func WriteGCTable(w io.Writer, r GCReport, now time.Time) error {
	if len(r.Removed) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "IMAGE ID\tSIZE\tFREED\tLAST USED\tNAMES")
		for _, g := range r.Removed {
			var last time.Time
			if g.LastUsed != nil {
				last = *g.LastUsed
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tableID(g.ID), HumanBytes(g.Size), HumanBytes(g.Freed),
				Ago(last, now), joinNames(g.Names))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing the table: %w", err)
		}
	}
	images := func(n int) string {
		if n == 1 {
			return "1 image"
		}
		return strconv.Itoa(n) + " images"
	}
	var line string
	switch {
	case len(r.Removed) == 0:
		line = fmt.Sprintf("nothing to remove: the store holds %s in %s", HumanBytes(r.AfterBytes), images(r.ImagesLeft))
	case r.DryRun:
		line = fmt.Sprintf("would remove %s and free %s: the store would hold %s in %s",
			images(len(r.Removed)), HumanBytes(r.FreedBytes), HumanBytes(r.AfterBytes), images(r.ImagesLeft))
	default:
		line = fmt.Sprintf("removed %s and freed %s: the store holds %s in %s",
			images(len(r.Removed)), HumanBytes(r.FreedBytes), HumanBytes(r.AfterBytes), images(r.ImagesLeft))
	}
	if _, err := fmt.Fprintln(w, line); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	return nil
}
