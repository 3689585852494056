package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizePhone(t *testing.T) {
	for raw, want := range map[string]string{
		"+1 (415) 555-0100": "+14155550100",
		"+44 20 7946 0958":  "+442079460958",
		" +49.30.1234567 ":  "+49301234567",
	} {
		got, ok := NormalizePhone(raw)
		require.True(t, ok, raw)
		require.Equal(t, want, got, raw)
	}
	for _, raw := range []string{"", "4155550100", "+0 415 555 0100", "+1 415 555 0100 ext 2", "++14155550100", "+1415", "+1234567890123456", "+1-415-555-01OO", "1+4155550100"} {
		_, ok := NormalizePhone(raw)
		require.False(t, ok, raw)
	}
}
