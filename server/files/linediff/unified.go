package linediff

import (
	"strconv"
	"strings"
)

// change is a run of removed old lines old[i0:i1] replaced by new[j0:j1]
// (either may be empty), between unchanged lines.
type change struct{ i0, i1, j0, j1 int }

// changes lists the runs of changed lines in order.
func (d *Diff) changes() []change {
	var out []change
	i, j := 0, 0
	for i < len(d.old) || j < len(d.new) {
		if i < len(d.old) && j < len(d.new) && d.keptOld[i] && d.keptNew[j] {
			i++
			j++
			continue
		}
		c := change{i0: i, j0: j}
		for i < len(d.old) && !d.keptOld[i] {
			i++
		}
		for j < len(d.new) && !d.keptNew[j] {
			j++
		}
		c.i1, c.j1 = i, j
		out = append(out, c)
	}
	return out
}

// hunk is a hunk of a unified diff: changes[first:last+1], shown with
// old[i0:i1] and new[j0:j1] (the changes and their context).
type hunk struct{ first, last, i0, i1, j0, j1 int }

// hunks groups changes into the hunks of a unified diff with context lines
// of unchanged text around each change: changes closer than twice that
// share one.
func (d *Diff) hunks(changes []change, context int) []hunk {
	var out []hunk
	for c := 0; c < len(changes); {
		h := hunk{first: c, last: c}
		for h.last+1 < len(changes) && changes[h.last+1].i0-changes[h.last].i1 <= 2*context {
			h.last++
		}
		lead := min(context, changes[h.first].i0)
		trail := min(context, len(d.old)-changes[h.last].i1)
		h.i0, h.i1 = changes[h.first].i0-lead, changes[h.last].i1+trail
		h.j0, h.j1 = changes[h.first].j0-lead, changes[h.last].j1+trail
		out = append(out, h)
		c = h.last + 1
	}
	return out
}

// Hunks is the number of hunks of the unified diff with context lines of
// context (0 for equal texts).
func (d *Diff) Hunks(context int) int {
	return len(d.hunks(d.changes(), context))
}

// Unified writes the diff in the unified format of diff -u and patch(1):
// "--- oldLabel" and "+++ newLabel" headers, then hunks with context lines
// of unchanged text around each change (changes closer than twice that are
// one hunk). A line without a final newline is followed by
// "\ No newline at end of file". Equal texts give "".
func (d *Diff) Unified(oldLabel, newLabel string, context int) string {
	changes := d.changes()
	if len(changes) == 0 {
		return ""
	}
	hunks := d.hunks(changes, context)
	size := len(oldLabel) + len(newLabel) + 10
	for _, h := range hunks {
		size += 40 + lineBytes(d.old[h.i0:h.i1]) + (h.i1 - h.i0) + lineBytes(d.new[h.j0:h.j1]) + (h.j1 - h.j0)
	}

	var sb strings.Builder
	sb.Grow(size)
	sb.WriteString("--- " + oldLabel + "\n+++ " + newLabel + "\n")
	for _, h := range hunks {
		sb.WriteString("@@ -")
		writeRange(&sb, h.i0, h.i1-h.i0)
		sb.WriteString(" +")
		writeRange(&sb, h.j0, h.j1-h.j0)
		sb.WriteString(" @@\n")
		i := h.i0
		for _, c := range changes[h.first : h.last+1] {
			writeLines(&sb, ' ', d.old[i:c.i0])
			writeLines(&sb, '-', d.old[c.i0:c.i1])
			writeLines(&sb, '+', d.new[c.j0:c.j1])
			i = c.i1
		}
		writeLines(&sb, ' ', d.old[i:h.i1])
	}
	return sb.String()
}

// writeRange writes a hunk's "start,count" as diff -u does: count 1 is
// left out, and an empty range starts at the line before it.
func writeRange(sb *strings.Builder, start, count int) {
	if count > 0 {
		start++
	}
	sb.WriteString(strconv.Itoa(start))
	if count != 1 {
		sb.WriteByte(',')
		sb.WriteString(strconv.Itoa(count))
	}
}

func writeLines(sb *strings.Builder, prefix byte, lines []string) {
	for _, l := range lines {
		sb.WriteByte(prefix)
		sb.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func lineBytes(lines []string) int {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return n
}
