package apierror

import (
	"crypto/rand"
	"encoding/hex"
)

func newErrorID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
