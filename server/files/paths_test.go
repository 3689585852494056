package files_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/server/files"
)

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	good := map[string][2]string{
		"src/App.tsx":         {"src/App.tsx", "src/app.tsx"},
		"README":              {"README", "readme"},
		"a/b/c/d.e.f":         {"a/b/c/d.e.f", "a/b/c/d.e.f"},
		"caf\u0065\u0301.txt": {"caf\u00e9.txt", "caf\u00e9.txt"}, // NFD becomes NFC
		".github/workflows/x": {".github/workflows/x", ".github/workflows/x"},
		"console.log.ts":      {"console.log.ts", "console.log.ts"},
	}
	for in, want := range good {
		p, key, err := files.NormalizePath(in)
		require.NoError(t, err, in)
		require.Equal(t, want[0], p, in)
		require.Equal(t, want[1], key, in)
	}
	for _, bad := range []string{
		"", "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a/", `a\b`, "C:/x", "a/.git/config", ".GIT", "a\x00b",
		"a\nb", "\xff", "aux.txt", "dir/COM1", "name.", "name ", "a:b", "a|b", strings.Repeat("x", 256), strings.Repeat("a/", 65) + "x",
	} {
		_, _, err := files.NormalizePath(bad)
		require.ErrorIs(t, err, files.ErrBadPath, "%q", bad)
	}
}

func TestNormalizeContent(t *testing.T) {
	t.Parallel()
	c, err := files.NormalizeContent("a\r\nb\r\n")
	require.NoError(t, err)
	require.Equal(t, "a\nb\n", c)
	_, err = files.NormalizeContent("bin\x00ary")
	require.ErrorIs(t, err, files.ErrBadContent)
	_, err = files.NormalizeContent("\xc3\x28")
	require.ErrorIs(t, err, files.ErrBadContent)
}

// FuzzNormalizePath: whatever comes in, an accepted path is relative, has no
// "." or ".." components, no backslash or NUL, and is a fixed point.
func FuzzNormalizePath(f *testing.F) {
	for _, seed := range []string{"src/a.go", "../x", "a/./b", "caf\u0065\u0301", `a\b`, "/abs", "a/.git/x", "a/.GIT/x", "x\x00", "COM1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, key, err := files.NormalizePath(in)
		if err != nil {
			return
		}
		require.False(t, strings.HasPrefix(p, "/"))
		require.NotContains(t, p, "\\")
		require.NotContains(t, p, "\x00")
		require.True(t, utf8.ValidString(p))
		for _, part := range strings.Split(p, "/") {
			require.NotEqual(t, "..", part)
			require.NotEqual(t, ".", part)
			require.NotEmpty(t, part)
			require.False(t, strings.EqualFold(part, ".git"), "no .git component, in any case: %q", p)
		}
		again, key2, err := files.NormalizePath(p)
		require.NoError(t, err)
		require.Equal(t, p, again)
		require.Equal(t, key, key2)
		// Paths that differ only in ASCII case collide: same key.
		if upper := strings.ToUpper(p); upper != p && isASCII(p) {
			_, upperKey, err := files.NormalizePath(upper)
			if err == nil {
				require.Equal(t, key, upperKey, "%q and %q", p, upper)
			}
		}
	})
}

// FuzzDiffRoundTrip: the unified diff from old to new, applied to old the way
// patch(1) would (context lines checked), gives new; its line counts match
// its +/- lines. (Texts get a final newline; "\ No newline" markers are
// display detail.)
func FuzzDiffRoundTrip(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nB\nc\nd\n")
	f.Add("", "x")
	f.Add("same\n", "same\n")
	f.Add("no newline", "no newline at all")
	f.Fuzz(func(t *testing.T, old, new string) {
		if old != "" && !strings.HasSuffix(old, "\n") {
			old += "\n"
		}
		if new != "" && !strings.HasSuffix(new, "\n") {
			new += "\n"
		}
		d := files.Compare("old", "new", old, new)
		if old == new {
			require.Empty(t, d.Unified)
			return
		}
		got, err := files.ApplyPatch(old, d.Unified)
		require.NoError(t, err)
		require.Equal(t, new, got)
		plus, minus := 0, 0
		for _, line := range strings.Split(d.Unified, "\n")[2:] {
			switch {
			case strings.HasPrefix(line, "+"):
				plus++
			case strings.HasPrefix(line, "-"):
				minus++
			}
		}
		require.Equal(t, plus, d.LinesAdded)
		require.Equal(t, minus, d.LinesRemoved)
	})
}

func TestApplyPatchRefusesWhatDoesNotApply(t *testing.T) {
	t.Parallel()
	base := "a\nb\nc\n"
	out, err := files.ApplyPatch(base, "@@ -2 +2 @@\n-b\n+B\n")
	require.NoError(t, err)
	require.Equal(t, "a\nB\nc\n", out)
	for name, diff := range map[string]string{
		"removed_line_differs": "@@ -2 +2 @@\n-x\n+B\n",
		"context_differs":      "@@ -1,2 +1,2 @@\n z\n-b\n+B\n",
		"past_the_end":         "@@ -9 +9 @@\n-b\n+B\n",
		"garbage":              "@@ -1 +1 @@\n?what\n",
		"bad_header":           "@@ nope @@\n",
	} {
		_, err := files.ApplyPatch(base, diff)
		require.ErrorIs(t, err, files.ErrPatch, name)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
