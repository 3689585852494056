package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hivesync/hivesync/server/files/linediff"
)

// ErrBadContent wraps every reason content is refused.
var ErrBadContent = errors.New("invalid content")

// NormalizeContent checks content is UTF-8 text (no NUL bytes: binary files
// are not stored) and turns CRLF line endings into LF (spec §34.6).
func NormalizeContent(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not valid UTF-8 text", ErrBadContent)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("%w: contains NUL bytes (binary files are not stored)", ErrBadContent)
	}
	return strings.ReplaceAll(s, "\r\n", "\n"), nil
}

// Hash is the hex SHA-256 of content.
func Hash(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// Diff is a unified diff of two versions with line counts.
type Diff struct {
	Unified      string
	LinesAdded   int
	LinesRemoved int
}

// contextLines is how many unchanged lines surround each change in a
// unified diff, as diff -u prints them.
const contextLines = 3

// Compare diffs old and new by lines (linediff: O(n log n) on any input) and
// writes the unified diff; the counts are those of its "+" and "-" lines.
func Compare(oldLabel, newLabel, old, new string) Diff {
	d := linediff.Lines(old, new)
	return Diff{Unified: d.Unified(oldLabel, newLabel, contextLines), LinesAdded: d.Added, LinesRemoved: d.Removed}
}

// CountChanges is Compare's line and hunk counts without the diff text,
// for a save.
func CountChanges(old, new string) (added, removed, hunks int) {
	return linediff.Count(old, new, contextLines)
}
