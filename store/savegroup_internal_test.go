package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A group runs until the latest deadline of its callers, or for
// groupTimeout when one of them set none: a caller whose save is in the
// group waits for its outcome, so the group must not outlive them all, nor
// end before the last of them gives up.
func TestAGroupEndsAtItsCallersLatestDeadline(t *testing.T) {
	t.Parallel()
	now := time.Now()
	soon, later := &pendingSave{deadline: now.Add(time.Second)}, &pendingSave{deadline: now.Add(time.Minute)}
	latest, ok := latestDeadline([]*pendingSave{later, soon})
	require.True(t, ok)
	require.Equal(t, later.deadline, latest)
	_, ok = latestDeadline([]*pendingSave{soon, {}})
	require.False(t, ok, "a caller without a deadline leaves the group to groupTimeout")
}
