package events

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFrameRingKeepsTheLatestRunEndingAtTheHead(t *testing.T) {
	var r frameRing
	require.False(t, r.has(1))
	frames := map[int64]*Frame{}
	for seq := int64(1); seq <= recentFrames+10; seq++ {
		frames[seq] = &Frame{}
		r.push(seq, frames[seq])
	}
	require.False(t, r.has(10), "the oldest fell out")
	for seq := int64(11); seq <= recentFrames+10; seq++ {
		require.True(t, r.has(seq))
		require.Same(t, frames[seq], r.get(seq))
	}
	require.False(t, r.has(recentFrames+11))

	// A gap (events this node never saw) starts afresh.
	r.push(recentFrames+20, &Frame{})
	require.False(t, r.has(recentFrames+10))
	require.True(t, r.has(recentFrames+20))

	// Older events read from the log extend it back, only contiguously and
	// only while there is room.
	head := int64(recentFrames + 20)
	r.pushFront(head-5, &Frame{}, head)
	require.False(t, r.has(head-5), "not adjacent")
	older := &Frame{}
	r.pushFront(head-1, older, head)
	require.Same(t, older, r.get(head-1))
	for seq := head - 2; seq > head-int64(recentFrames)-5; seq-- {
		r.pushFront(seq, &Frame{}, head)
	}
	require.True(t, r.has(head-int64(recentFrames)+1))
	require.False(t, r.has(head-int64(recentFrames)), "full")

	// An empty ring starts only at the head.
	var e frameRing
	e.pushFront(4, &Frame{}, 5)
	require.False(t, e.has(4))
	e.pushFront(5, &Frame{}, 5)
	require.True(t, e.has(5))
	e.pushFront(4, &Frame{}, 5)
	require.True(t, e.has(4))
}
