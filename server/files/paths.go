// Package files is the file domain: projects, members, files and their
// versions, with compare-and-set saves that never overwrite silently.
package files

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Path limits.
const (
	maxPathBytes      = 1024
	maxComponentBytes = 255
	maxDepth          = 64
)

// ErrBadPath wraps every reason a path is refused.
var ErrBadPath = errors.New("invalid path")

// windowsReserved are names no Windows checkout can hold.
var windowsReserved = map[string]bool{"con": true, "prn": true, "aux": true, "nul": true}

// NormalizePath validates a project-relative path and returns its canonical
// form (NFC, "/"-separated) and its collision key (case-folded). It refuses
// absolute paths, "." and ".." components, backslashes, control characters,
// ".git" components, names Windows cannot hold, and over-long paths.
func NormalizePath(p string) (path, key string, err error) {
	fail := func(why string) (string, string, error) { return "", "", fmt.Errorf("%w: %s", ErrBadPath, why) }
	if p == "" {
		return fail("empty")
	}
	if !utf8.ValidString(p) {
		return fail("not valid UTF-8")
	}
	p = norm.NFC.String(p)
	if len(p) > maxPathBytes {
		return fail(fmt.Sprintf("longer than %d bytes", maxPathBytes))
	}
	if strings.ContainsRune(p, '\\') {
		return fail(`backslashes are not allowed; use "/"`)
	}
	if strings.HasPrefix(p, "/") || (len(p) >= 2 && p[1] == ':') {
		return fail("must be relative to the project")
	}
	parts := strings.Split(p, "/")
	if len(parts) > maxDepth {
		return fail(fmt.Sprintf("deeper than %d directories", maxDepth))
	}
	for _, part := range parts {
		switch {
		case part == "":
			return fail("empty component (leading, trailing or double slash)")
		case part == "." || part == "..":
			return fail(`"." and ".." are not allowed`)
		case len(part) > maxComponentBytes:
			return fail(fmt.Sprintf("a name is longer than %d bytes", maxComponentBytes))
		case strings.EqualFold(part, ".git"):
			return fail(`".git" is reserved for git`)
		case strings.IndexFunc(part, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0:
			return fail("control characters are not allowed")
		case strings.HasSuffix(part, " ") || strings.HasSuffix(part, "."):
			return fail("names may not end with a space or a dot")
		case strings.ContainsAny(part, `<>:"|?*`):
			return fail(`names may not contain < > : " | ? *`)
		}
		base, _, _ := strings.Cut(strings.ToLower(part), ".")
		if windowsReserved[base] || (len(base) == 4 && (strings.HasPrefix(base, "com") || strings.HasPrefix(base, "lpt")) && base[3] >= '1' && base[3] <= '9') {
			return fail(fmt.Sprintf("%q is a reserved name on Windows", part))
		}
	}
	return p, strings.ToLower(p), nil
}
