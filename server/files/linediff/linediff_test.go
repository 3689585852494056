package linediff_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/server/files/linediff"
)

// apply rebuilds the new text from the old one and a unified diff, checking
// every context and removed line (a minimal patch(1) for these tests).
func apply(t *testing.T, old, unified string) string {
	t.Helper()
	src := strings.SplitAfter(old, "\n")
	var out []string
	next, added := 0, false
	for _, line := range strings.SplitAfter(unified, "\n") {
		wasAdded := added
		added = line != "" && line[0] == '+' && !strings.HasPrefix(line, "+++ ")
		if strings.HasPrefix(line, `\`) {
			added = wasAdded
		}
		switch {
		case strings.HasPrefix(line, `\`):
			// The line before has no final newline; only an added one
			// carries a "\n" that is not in the text.
			if wasAdded {
				out[len(out)-1] = strings.TrimSuffix(out[len(out)-1], "\n")
			}
		case line == "", strings.HasPrefix(line, "--- "), strings.HasPrefix(line, "+++ "):
		case strings.HasPrefix(line, "@@ "):
			var from int
			_, err := fmt.Sscanf(line, "@@ -%d", &from)
			require.NoError(t, err)
			from = max(from, 1)
			out = append(out, src[next:from-1]...)
			next = from - 1
		case line[0] == ' ', line[0] == '-':
			require.Equal(t, strings.TrimSuffix(src[next], "\n"), strings.TrimSuffix(line[1:], "\n"), "old line %d", next+1)
			if line[0] == ' ' {
				out = append(out, src[next])
			}
			next++
		case line[0] == '+':
			out = append(out, line[1:])
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	return strings.Join(append(out, src[next:]...), "")
}

// lines joins numbered lines "<prefix><n>\n".
func lines(prefix string, from, to int) string {
	var sb strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&sb, "%s%d\n", prefix, i)
	}
	return sb.String()
}

func TestLines(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, old, new string
		added, removed int
	}{
		{"equal", "a\nb\n", "a\nb\n", 0, 0},
		{"both_empty", "", "", 0, 0},
		{"from_empty", "", "a\nb\n", 2, 0},
		{"to_empty", "a\nb\n", "", 0, 2},
		{"one_line_changed", "a\nb\nc\n", "a\nB\nc\n", 1, 1},
		{"final_newline_added", "a\nb", "a\nb\n", 1, 1},
		{"block_inserted", lines("l", 0, 50), lines("l", 0, 20) + lines("new", 0, 7) + lines("l", 20, 50), 7, 0},
		{"block_removed", lines("l", 0, 50), lines("l", 0, 10) + lines("l", 30, 50), 0, 20},
		// Two edits with only repeated lines between them: anchoring alone
		// (Go's internal/diff) reports the "}" and blank lines as changed.
		{"edits_between_repeated_lines", "func a() {\n\tx := 1\n}\n\n}\n\tx := 2\n}\n", "func a() {\n\tx := 10\n}\n\n}\n\tx := 20\n}\n", 2, 2},
		// No line is unique: Myers finds the minimal diff.
		{"no_unique_lines", "a\nb\na\nb\n", "a\nc\na\nc\n", 2, 2},
		{"all_changed", lines("old", 0, 30), lines("new", 0, 30), 30, 30},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := linediff.Lines(c.old, c.new)
			require.Equal(t, c.added, d.Added)
			require.Equal(t, c.removed, d.Removed)
			u := d.Unified("old", "new", 3)
			added, removed, hunks := linediff.Count(c.old, c.new, 3)
			require.Equal(t, [3]int{c.added, c.removed, strings.Count(u, "\n@@ ")}, [3]int{added, removed, hunks})
			require.Equal(t, hunks, d.Hunks(3))
			if c.old == c.new {
				require.Empty(t, u)
				require.Zero(t, hunks)
				return
			}
			require.Equal(t, c.new, apply(t, c.old, u))
			require.Equal(t, c.added, strings.Count(u, "\n+")-1) // and "+++ new"
			require.Equal(t, c.removed, strings.Count(u, "\n-"))
		})
	}
}

// TestLinesScatteredEdits: many edits spread through a file are each one
// line removed and one added. go-udiff gave up past about 100 edits and
// reported most of the file as replaced.
func TestLinesScatteredEdits(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var old, new strings.Builder
	changed := 0
	plain := func(i int) bool { return i%8 != 7 && i%16 != 3 }
	for i := range 5000 {
		line := fmt.Sprintf("\tv%d := f(%q)\n", i, strings.Repeat("x", rng.IntN(40)))
		if !plain(i) {
			line = "\t}\n"
			if i%16 == 3 {
				line = "\n"
			}
		}
		old.WriteString(line)
		// Every 25th line, or the next when that one is a brace or blank.
		if i%25 == 0 && plain(i) || i%25 == 1 && !plain(i-1) {
			line = strings.Replace(line, "f(", "g(", 1)
			changed++
		}
		new.WriteString(line)
	}
	require.Equal(t, 200, changed)
	d := linediff.Lines(old.String(), new.String())
	require.Equal(t, 200, d.Added)
	require.Equal(t, 200, d.Removed)
	require.Equal(t, new.String(), apply(t, old.String(), d.Unified("a", "b", 3)))
}

// TestLinesRepetitiveText: in text with no unique line (a few distinct lines
// repeated), scattered edits need Myers over the whole file, which is done
// in steps; each edit is still one line removed and one added.
func TestLinesRepetitiveText(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	old := make([]string, 20000)
	for i := range old {
		old[i] = fmt.Sprintf("case %d:\n", rng.IntN(8))
	}
	edited := slices.Clone(old)
	changed := 0
	for i := 0; i+1 < len(edited); i += 50 {
		if edited[i] != edited[i+1] {
			edited[i] = edited[i+1]
			changed++
		}
	}
	oldText, newText := strings.Join(old, ""), strings.Join(edited, "")
	d := linediff.Lines(oldText, newText)
	require.Equal(t, changed, d.Added)
	require.Equal(t, changed, d.Removed)
	require.Equal(t, newText, apply(t, oldText, d.Unified("a", "b", 3)))
}

func TestUnifiedFormat(t *testing.T) {
	t.Parallel()
	d := linediff.Lines("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "a\nB\nc\nd\ne\nf\ng\nh\ni\nJ\nk")
	require.Equal(t, `--- x
+++ y
@@ -1,5 +1,5 @@
 a
-b
+B
 c
 d
 e
@@ -7,4 +7,5 @@
 g
 h
 i
-j
+J
+k
\ No newline at end of file
`, d.Unified("x", "y", 3))
	require.Equal(t, "--- x\n+++ y\n@@ -0,0 +1 @@\n+a\n", linediff.Lines("", "a\n").Unified("x", "y", 3))
	require.Equal(t, "--- x\n+++ y\n@@ -1 +0,0 @@\n-a\n", linediff.Lines("a\n", "").Unified("x", "y", 3))
}

// FuzzLines: on any texts the diff applies and its counts are its lines; on
// texts made of few distinct lines (where anchoring finds little) too.
func FuzzLines(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nB\nc\nd\n", false)
	f.Add("a\nb\na\nb\n", "b\na\nb\na\n", true)
	f.Add("", "x\n", false)
	f.Add("x\ny", "x\nz", false)
	f.Fuzz(func(t *testing.T, old, new string, fewLines bool) {
		if fewLines {
			// Every byte is a line of one of three texts.
			expand := func(s string) string {
				var sb strings.Builder
				for _, c := range []byte(s) {
					sb.WriteString([]string{"x\n", "y\n", "}\n"}[c%3])
				}
				return sb.String()
			}
			old, new = expand(old), expand(new)
		}
		d := linediff.Lines(old, new)
		u := d.Unified("old", "new", 3)
		added, removed, hunks := linediff.Count(old, new, 3)
		require.Equal(t, [3]int{d.Added, d.Removed, d.Hunks(3)}, [3]int{added, removed, hunks}, "Count agrees with Lines")
		require.Equal(t, strings.Count(u, "\n@@ "), hunks, "one hunk per @@ line")
		if old == new {
			require.Empty(t, u)
			require.Zero(t, d.Added+d.Removed)
			return
		}
		require.Equal(t, new, apply(t, old, u))
		plus, minus := 0, 0
		for _, line := range strings.SplitAfter(u, "\n")[2:] {
			switch {
			case strings.HasPrefix(line, "+"):
				plus++
			case strings.HasPrefix(line, "-"):
				minus++
			}
		}
		require.Equal(t, plus, d.Added)
		require.Equal(t, minus, d.Removed)
		require.Equal(t, lineCount(new)-lineCount(old), d.Added-d.Removed)
	})
}

func lineCount(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}
