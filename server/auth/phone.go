package auth

import "strings"

// NormalizePhone returns an E.164 phone number ("+" and 7 to 15 digits, no
// leading zero) from one written with spaces, dashes, dots or
// parentheses, or false. Numbers without their country code are refused:
// there is no region to assume them in.
func NormalizePhone(raw string) (string, bool) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(raw) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	n := b.String()
	if len(n) < 8 || len(n) > 16 || n[0] != '+' || n[1] == '0' {
		return "", false
	}
	return n, true
}
