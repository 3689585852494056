package events

// recentFrames is how many of a channel's latest events a node keeps
// decoded: a subscriber resuming within them is served from memory, so a
// reconnect storm reads the log once per channel, not once per client.
const recentFrames = 128

// frameRing holds the frames of a run of consecutive sequences ending at
// the channel's head (a nil frame is an event that could not be decoded).
// Its owner's lock guards it.
type frameRing struct {
	buf []*Frame // allocated on first use; frame of sequence s at s % len
	lo  int64    // the oldest sequence held
	n   int
}

// has reports whether the ring holds seq.
func (r *frameRing) has(seq int64) bool { return r.n > 0 && seq >= r.lo && seq < r.lo+int64(r.n) }

// get is the frame of a sequence the ring holds.
func (r *frameRing) get(seq int64) *Frame { return r.buf[seq%int64(len(r.buf))] }

// push adds the next sequence (head + 1); a gap starts the ring afresh.
func (r *frameRing) push(seq int64, f *Frame) {
	if r.buf == nil {
		r.buf = make([]*Frame, recentFrames)
	}
	if r.n > 0 && r.lo+int64(r.n) != seq {
		r.n = 0
	}
	if r.n == 0 {
		r.lo = seq
	}
	if r.n == len(r.buf) {
		r.buf[r.lo%int64(len(r.buf))] = nil
		r.lo++
		r.n--
	}
	r.buf[seq%int64(len(r.buf))] = f
	r.n++
}

// pushFront adds the sequence just before the oldest one held (catch-up
// reads older events), while there is room; head is the channel's head,
// which an empty ring may start at.
func (r *frameRing) pushFront(seq int64, f *Frame, head int64) {
	switch {
	case r.n == 0 && seq == head:
		r.push(seq, f)
	case r.n > 0 && seq == r.lo-1 && r.n < len(r.buf):
		r.lo--
		r.n++
		r.buf[seq%int64(len(r.buf))] = f
	}
}
