package files

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPatch means a unified diff does not apply to the content it names.
var ErrPatch = errors.New("patch does not apply")

// ApplyPatch applies a unified diff to base the way patch(1) does: hunks in
// order, every context and removed line must match exactly. It is how queued
// patch edits are replayed; nothing is guessed or fuzzily placed.
func ApplyPatch(base, diff string) (string, error) {
	src := strings.SplitAfter(base, "\n")
	if len(src) > 0 && src[len(src)-1] == "" {
		src = src[:len(src)-1]
	}
	out := make([]string, 0, len(src))
	next := 0
	for _, line := range strings.SplitAfter(diff, "\n") {
		switch {
		case line == "", strings.HasPrefix(line, "--- "), strings.HasPrefix(line, "+++ "), strings.HasPrefix(line, `\`):
		case strings.HasPrefix(line, "@@ "):
			var from int
			if _, err := fmt.Sscanf(line, "@@ -%d", &from); err != nil {
				return "", fmt.Errorf("%w: bad hunk header %q", ErrPatch, strings.TrimSpace(line))
			}
			if from == 0 {
				from = 1
			}
			if from-1 < next || from-1 > len(src) {
				return "", fmt.Errorf("%w: hunk at line %d is out of order or past the end", ErrPatch, from)
			}
			out = append(out, src[next:from-1]...)
			next = from - 1
		case line[0] == ' ' || line[0] == '-':
			if next >= len(src) || strings.TrimSuffix(src[next], "\n") != strings.TrimSuffix(line[1:], "\n") {
				return "", fmt.Errorf("%w: line %d differs", ErrPatch, next+1)
			}
			if line[0] == ' ' {
				out = append(out, src[next])
			}
			next++
		case line[0] == '+':
			out = append(out, line[1:])
		default:
			return "", fmt.Errorf("%w: unexpected line %q", ErrPatch, strings.TrimSpace(line))
		}
	}
	out = append(out, src[next:]...)
	return strings.Join(out, ""), nil
}
