package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"
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

// Compare diffs old and new by lines (go-udiff, O(n log n) in practice).
func Compare(oldLabel, newLabel, old, new string) (Diff, error) {
	edits := udiff.Lines(old, new)
	u, err := udiff.ToUnifiedDiff(oldLabel, newLabel, old, edits, udiff.DefaultContextLines)
	if err != nil {
		return Diff{}, fmt.Errorf("diff: %w", err)
	}
	d := Diff{Unified: u.String()}
	for _, h := range u.Hunks {
		for _, l := range h.Lines {
			switch l.Kind {
			case udiff.Insert:
				d.LinesAdded++
			case udiff.Delete:
				d.LinesRemoved++
			}
		}
	}
	return d, nil
}
