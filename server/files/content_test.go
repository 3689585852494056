package files_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/server/files"
)

// TestCompareScatteredEdits: 200 lines edited throughout a 5,000-line file
// (among repeated braces and blank lines) are 200 added and 200 removed, in
// the diff text as in the counts, and the diff applies back. go-udiff gave up
// after about 100 edits and reported most of the file as replaced.
func TestCompareScatteredEdits(t *testing.T) {
	t.Parallel()
	var old, new strings.Builder
	edited := 0
	for i := range 5000 {
		line := fmt.Sprintf("\tvalue%d := compute(%d)\n", i, i*7)
		switch i % 10 {
		case 9:
			line = "\t}\n"
		case 4:
			line = "\n"
		}
		old.WriteString(line)
		if i%25 == 0 {
			line = fmt.Sprintf("\tvalue%d := recompute(%d)\n", i, i*7)
			edited++
		}
		new.WriteString(line)
	}
	require.Equal(t, 200, edited)

	d := files.Compare("a.go@1", "a.go@2", old.String(), new.String())
	require.Equal(t, 200, d.LinesAdded)
	require.Equal(t, 200, d.LinesRemoved)
	require.Equal(t, 200, strings.Count(d.Unified, "\n+\tvalue"))
	require.Equal(t, 200, strings.Count(d.Unified, "\n-\tvalue"))
	added, removed, hunks := files.CountChanges(old.String(), new.String())
	require.Equal(t, [3]int{200, 200, 200}, [3]int{added, removed, hunks}, "edits 25 lines apart: a hunk each")
	require.Equal(t, 200, strings.Count(d.Unified, "\n@@ "))

	got, err := files.ApplyPatch(old.String(), d.Unified)
	require.NoError(t, err)
	require.Equal(t, new.String(), got)
}
