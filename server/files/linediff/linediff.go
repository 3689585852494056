// Package linediff compares two texts line by line in O(n log n) time and
// O(n) memory, and writes the result as a unified diff.
//
// The search is patience-style anchoring, the approach of Go's own
// src/internal/diff (used by the go command) and of git's --patience:
//
//  1. Lines common to the start and to the end of both texts are kept.
//  2. Of the remaining lines, those that occur exactly once in each text
//     are candidate anchors; the longest sequence of them in the same order
//     in both texts (a longest increasing subsequence, O(k log k)) is kept.
//  3. Each gap between two anchors is a smaller instance of the same
//     problem and is refined the same way: its common ends, then lines that
//     are unique within the gap. This is what Go's anchored diff does not do;
//     without it, repeated lines such as "}" or blank lines between two edits
//     are reported as changed.
//  4. A gap with no line unique in both sides but some lines in common is
//     solved with Myers' O(ND) algorithm: exactly when it needs at most
//     maxMyersEdits edits (fewer for a large gap, down to minMyersEdits, so
//     that one search costs about the budget left); otherwise the gap is cut
//     where the search got furthest, the shortest path to that point is
//     kept, and the rest is searched again the same way.
//
// Step 2 on the whole texts is O(n log n). Everything after it (steps 3
// and 4 on the gaps) spends a work budget linear in the texts (budgetPerLine
// per line plus budgetBase, counted in lines visited and Myers steps); a gap
// left when the budget is spent is reported as replaced. So the worst case is
// O(n log n) time on any input, and the diff is always valid: it turns the
// old text into the new one. It is minimal whenever the kept lines form a
// longest common subsequence: always for edits separated by a line unique in
// both texts, and for gaps Myers solves in one search; repetitive text with
// more edits than that gets a near-minimal diff, and text that exhausts the
// budget (such as two unrelated files of a few distinct lines) gets a valid
// but larger one.
package linediff

import (
	"hash/maphash"
	"strings"
)

// Tuning of the refinement after the first anchoring pass.
const (
	// budgetPerLine and budgetBase bound the work spent refining gaps: at
	// most budgetPerLine lines visited per line of both texts, plus
	// budgetBase, so small files are always refined fully.
	budgetPerLine = 4
	budgetBase    = 1 << 17
	// maxMyersEdits bounds one Myers search (its memory is about
	// maxMyersEdits² int32); a large gap gets fewer, down to minMyersEdits.
	maxMyersEdits = 1024
	minMyersEdits = 16
)

// Diff is the line-level comparison of two texts.
type Diff struct {
	old, new []string
	// keptOld[i] reports whether old line i is unchanged; keptNew likewise.
	// The kept lines of both sides pair up in order.
	keptOld, keptNew []bool
	// Added and Removed are the numbers of new lines added and old lines
	// removed, exactly as the unified diff shows them.
	Added, Removed int
}

// Lines compares old and new line by line. A line includes its "\n"; a last
// line without one differs from the same text with one.
func Lines(old, new string) *Diff {
	d := &Diff{old: split(old), new: split(new)}
	d.keptOld, d.keptNew = make([]bool, len(d.old)), make([]bool, len(d.new))

	// Common ends are kept without interning them.
	lo := 0
	for lo < len(d.old) && lo < len(d.new) && d.old[lo] == d.new[lo] {
		d.keptOld[lo], d.keptNew[lo] = true, true
		lo++
	}
	oldHi, newHi := len(d.old), len(d.new)
	for oldHi > lo && newHi > lo && d.old[oldHi-1] == d.new[newHi-1] {
		oldHi--
		newHi--
		d.keptOld[oldHi], d.keptNew[newHi] = true, true
	}
	if oldHi > lo && newHi > lo {
		s := newSearch(d, lo, oldHi, newHi)
		s.run(region{alo: lo, ahi: oldHi, blo: lo, bhi: newHi})
	}
	kept := 0
	for _, k := range d.keptOld {
		if k {
			kept++
		}
	}
	d.Added, d.Removed = len(d.new)-kept, len(d.old)-kept
	return d
}

// Count returns Lines(old, new).Added, .Removed and .Hunks(context)
// without keeping the diff: it first drops the bytes the texts share at both
// ends (whole lines only), so a small edit of a large file compares a few
// lines. What is left between the shared ends is where every change is, so
// when nothing in it is kept it is one hunk.
func Count(old, new string, context int) (added, removed, hunks int) {
	p := 0
	for p < len(old) && p < len(new) && old[p] == new[p] {
		p++
	}
	p = strings.LastIndexByte(old[:p], '\n') + 1 // back to a line start
	s := 0
	for s < len(old)-p && s < len(new)-p && old[len(old)-1-s] == new[len(new)-1-s] {
		s++
	}
	// The shared end must start a line in both texts.
	for s > 0 && (!lineStart(old, len(old)-s, p) || !lineStart(new, len(new)-s, p)) {
		s--
	}
	oldMid, newMid := old[p:len(old)-s], new[p:len(new)-s]
	// The usual save edits one line, or adds or removes a few: no search.
	switch {
	case oldMid == newMid:
		return 0, 0, 0
	case oldMid == "":
		return countLines(newMid), 0, 1
	case newMid == "":
		return 0, countLines(oldMid), 1
	case oneLine(oldMid) && oneLine(newMid):
		return 1, 1, 1 // they differ, so neither is kept
	case disjoint(oldMid, newMid):
		return countLines(newMid), countLines(oldMid), 1 // nothing to keep
	}
	d := Lines(oldMid, newMid)
	return d.Added, d.Removed, d.Hunks(context)
}

// disjoint reports whether a and b, both of a few lines (a few edited
// lines, as most saves are), have no line in common: then no diff keeps
// any, and Lines' counts are their line counts without a search.
func disjoint(a, b string) bool {
	const few = 16
	var la, lb [few]string
	as, okA := splitFew(a, la[:0])
	bs, okB := splitFew(b, lb[:0])
	if !okA || !okB {
		return false
	}
	for _, x := range as {
		for _, y := range bs {
			if x == y {
				return false
			}
		}
	}
	return true
}

// splitFew appends s's lines to dst, or reports false when there are more
// than cap(dst).
func splitFew(s string, dst []string) ([]string, bool) {
	for s != "" {
		if len(dst) == cap(dst) {
			return nil, false
		}
		i := strings.IndexByte(s, '\n') + 1
		if i == 0 {
			i = len(s)
		}
		dst, s = append(dst, s[:i]), s[i:]
	}
	return dst, true
}

// countLines is how many lines split(s) makes.
func countLines(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && s[len(s)-1] != '\n' {
		n++
	}
	return n
}

// oneLine reports whether s (not empty) is one line.
func oneLine(s string) bool {
	i := strings.IndexByte(s, '\n')
	return i < 0 || i == len(s)-1
}

// lineStart reports whether i starts a line of text, whose lines from p on
// are being compared.
func lineStart(text string, i, p int) bool {
	return i == p || text[i-1] == '\n'
}

// split cuts s after every "\n"; the last line may lack one.
func split(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// region is the gap old[alo:ahi] against new[blo:bhi] still to compare.
// myersOnly marks the rest of a gap Myers cut: it had no anchors, and
// looking for them again at every cut would cost a pass over it each time.
type region struct {
	alo, ahi, blo, bhi int
	myersOnly          bool
}

// search holds the state of one comparison: both texts as line ids (equal
// lines, equal ids), the kept flags it sets, scratch space and the budget.
type search struct {
	d      *Diff
	a, b   []int32 // line ids; only the range being compared is filled in
	budget int

	countA, countB []int32 // occurrences per id within a gap; zero between uses
	posB           []int32 // where a line unique in b's gap is
	anchorA        []int32 // candidate anchors, in old order
	anchorB        []int32
	tails, prev    []int32 // longest increasing subsequence scratch
	v, trace       []int32 // Myers scratch
	stack          []region
}

// newSearch gives every distinct line of old[lo:oldHi] and new[lo:newHi] an id.
func newSearch(d *Diff, lo, oldHi, newHi int) *search {
	s := &search{d: d, a: make([]int32, len(d.old)), b: make([]int32, len(d.new))}
	t := newInterner(oldHi - lo + newHi - lo)
	for i := lo; i < oldHi; i++ {
		s.a[i] = t.id(d.old[i])
	}
	for j := lo; j < newHi; j++ {
		s.b[j] = t.id(d.new[j])
	}
	n := len(t.lines)
	s.countA, s.countB, s.posB = make([]int32, n), make([]int32, n), make([]int32, n)
	s.budget = budgetPerLine*(oldHi-lo+newHi-lo) + budgetBase
	return s
}

// interner numbers distinct lines. It is an open-addressing hash table
// (linear probing, at most half full, doubling as lines come) rather than a
// map: each slot holds the top 32 bits of the line's hash and its id + 1, so
// most probes never touch the lines, and interning is about twice as fast as
// map[string]int32.
type interner struct {
	seed   maphash.Seed
	slots  []uint64
	lines  []string // the first line seen with each id
	hashes []uint64 // and its hash, to grow the table
}

// newInterner sizes the table for distinct lines (most lines of a file
// usually are), up to a million; past that it grows.
func newInterner(distinct int) *interner {
	distinct = min(distinct, 1<<20)
	size := 16
	for size < 2*distinct {
		size <<= 1
	}
	return &interner{seed: maphash.MakeSeed(), slots: make([]uint64, size),
		lines: make([]string, 0, distinct), hashes: make([]uint64, 0, distinct)}
}

const idBits = 1<<32 - 1

func (t *interner) id(line string) int32 {
	h := maphash.String(t.seed, line)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		slot := t.slots[i]
		if slot == 0 {
			id := int32(len(t.lines))
			t.lines, t.hashes = append(t.lines, line), append(t.hashes, h)
			t.slots[i] = h&^idBits | uint64(id+1)
			if 2*len(t.lines) > len(t.slots) {
				t.grow()
			}
			return id
		}
		if slot&^idBits == h&^idBits {
			if id := int32(slot&idBits) - 1; t.lines[id] == line {
				return id
			}
		}
	}
}

// grow doubles the table.
func (t *interner) grow() {
	t.slots = make([]uint64, 2*len(t.slots))
	mask := uint64(len(t.slots) - 1)
	for id, h := range t.hashes {
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = h&^idBits | uint64(id+1)
	}
}

func (s *search) keep(i, j int) {
	s.d.keptOld[i], s.d.keptNew[j] = true, true
}

// run compares r and every gap it leaves.
func (s *search) run(r region) {
	s.stack = append(s.stack[:0], r)
	for len(s.stack) > 0 {
		r := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		s.refine(r)
	}
}

// refine compares one gap: common ends, then anchors (queuing the gaps
// between them), else Myers. With the budget spent, the gap stays replaced.
func (s *search) refine(r region) {
	for r.alo < r.ahi && r.blo < r.bhi && s.a[r.alo] == s.b[r.blo] {
		s.keep(r.alo, r.blo)
		r.alo++
		r.blo++
	}
	for r.alo < r.ahi && r.blo < r.bhi && s.a[r.ahi-1] == s.b[r.bhi-1] {
		r.ahi--
		r.bhi--
		s.keep(r.ahi, r.bhi)
	}
	if r.alo == r.ahi || r.blo == r.bhi || s.budget <= 0 {
		return
	}
	if r.myersOnly {
		s.myers(r)
		return
	}
	anchored, common := s.anchor(r)
	if anchored || !common {
		return
	}
	s.myers(r)
}

// anchor keeps the longest in-order sequence of lines that occur once in
// each side of r, and queues the gaps around them. common reports whether
// the sides share any line at all.
func (s *search) anchor(r region) (anchored, common bool) {
	for j := r.blo; j < r.bhi; j++ {
		id := s.b[j]
		s.countB[id]++
		s.posB[id] = int32(j)
	}
	for i := r.alo; i < r.ahi; i++ {
		s.countA[s.a[i]]++
	}
	s.anchorA, s.anchorB = s.anchorA[:0], s.anchorB[:0]
	for i := r.alo; i < r.ahi; i++ {
		id := s.a[i]
		if s.countB[id] == 0 {
			continue
		}
		common = true
		if s.countA[id] == 1 && s.countB[id] == 1 {
			s.anchorA = append(s.anchorA, int32(i))
			s.anchorB = append(s.anchorB, s.posB[id])
		}
	}
	for j := r.blo; j < r.bhi; j++ {
		s.countB[s.b[j]] = 0
	}
	for i := r.alo; i < r.ahi; i++ {
		s.countA[s.a[i]] = 0
	}
	s.budget -= 2 * (r.ahi - r.alo + r.bhi - r.blo)
	if len(s.anchorA) == 0 {
		return false, common
	}
	chosen := s.increasing(s.anchorB)
	s.budget -= len(s.anchorB) * bitLen(len(s.anchorB))
	alo, blo := r.alo, r.blo
	for _, k := range chosen {
		i, j := int(s.anchorA[k]), int(s.anchorB[k])
		s.keep(i, j)
		s.push(region{alo: alo, ahi: i, blo: blo, bhi: j})
		alo, blo = i+1, j+1
	}
	s.push(region{alo: alo, ahi: r.ahi, blo: blo, bhi: r.bhi})
	return true, true
}

func (s *search) push(r region) {
	if r.alo < r.ahi || r.blo < r.bhi {
		s.stack = append(s.stack, r)
	}
}

// increasing returns the positions in v of a longest strictly increasing
// subsequence of v (patience sorting, O(k log k)).
func (s *search) increasing(v []int32) []int32 {
	tails := s.tails[:0] // tails[n]: position of the smallest last value of an increasing run of n+1
	if cap(s.prev) < len(v) {
		s.prev = make([]int32, len(v))
	}
	prev := s.prev[:len(v)]
	for i, x := range v {
		lo, hi := 0, len(tails)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if v[tails[mid]] < x {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		prev[i] = -1
		if lo > 0 {
			prev[i] = tails[lo-1]
		}
		if lo == len(tails) {
			tails = append(tails, int32(i))
		} else {
			tails[lo] = int32(i)
		}
	}
	s.tails = tails
	out := make([]int32, len(tails))
	k := tails[len(tails)-1]
	for n := len(out) - 1; n >= 0; n-- {
		out[n] = k
		k = prev[k]
	}
	return out
}

func bitLen(n int) int {
	b := 1
	for n > 1 {
		n >>= 1
		b++
	}
	return b
}

// myers keeps a longest common subsequence of r found by Myers' greedy
// O(ND) search (E. W. Myers, "An O(ND) Difference Algorithm and Its
// Variations", 1986) if one is within reach: at most maxMyersEdits edits,
// fewer for a large gap, so that one search costs about what is left of the
// budget. A gap needing more is cut where the search got furthest: the
// shortest edit path to that point is kept, and the rest of the gap is
// queued to be compared on its own.
func (s *search) myers(r region) {
	a, b := s.a[r.alo:r.ahi], s.b[r.blo:r.bhi]
	n, m := len(a), len(b)
	maxD := min(n+m, maxMyersEdits, max(minMyersEdits, s.budget/(n+m)))
	// v[k+maxD+1] is the furthest x reached on diagonal k = x-y. The trace
	// keeps v[-d..d] after each round d, at trace[d*d:], for the walk back.
	off := maxD + 1
	v := s.v[:0]
	v = append(v, make([]int32, 2*maxD+3)...)
	trace := s.trace[:0]
	defer func() { s.v, s.trace = v, trace }()
	for d := 0; d <= maxD; d++ {
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = int(v[off+k+1]) // down: insert b[y-1]
			} else {
				x = int(v[off+k-1]) + 1 // right: delete a[x-1]
			}
			y := x - k
			start := x
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			s.budget -= 1 + x - start
			v[off+k] = int32(x)
			if x >= n && y >= m {
				trace = append(trace, v[off-d:off+d+1]...)
				s.walkBack(r, trace, d, n, m)
				return
			}
		}
		trace = append(trace, v[off-d:off+d+1]...)
		if s.budget <= 0 || d == maxD {
			// Cut at the point of this round furthest along both sides.
			cutX, cutY := 0, 0
			for k := -d; k <= d; k += 2 {
				x := int(v[off+k])
				if y := x - k; x <= n && y >= 0 && y <= m && x+y > cutX+cutY {
					cutX, cutY = x, y
				}
			}
			s.walkBack(r, trace, d, cutX, cutY)
			s.push(region{alo: r.alo + cutX, ahi: r.ahi, blo: r.blo + cutY, bhi: r.bhi, myersOnly: true})
			return
		}
	}
}

// walkBack keeps the diagonal moves (unchanged lines) of the path Myers
// found to (x, y) in round d; trace[e*e+k+e] is v[k] after round e.
func (s *search) walkBack(r region, trace []int32, d, x, y int) {
	for ; d > 0; d-- {
		k := x - y
		prev := trace[(d-1)*(d-1):] // v[-(d-1)..d-1]: v[k] is prev[k+d-1]
		var midX, prevX, prevY int
		if k == -d || (k != d && prev[k-1+d-1] < prev[k+1+d-1]) {
			prevX = int(prev[k+1+d-1]) // came down from diagonal k+1
			prevY = prevX - (k + 1)
			midX = prevX
		} else {
			prevX = int(prev[k-1+d-1]) // came right from diagonal k-1
			prevY = prevX - (k - 1)
			midX = prevX + 1
		}
		for x > midX {
			x--
			y--
			s.keep(r.alo+x, r.blo+y)
		}
		x, y = prevX, prevY
	}
	for x > 0 && y > 0 {
		x--
		y--
		s.keep(r.alo+x, r.blo+y)
	}
}
