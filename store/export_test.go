package store

// Hooks for the black-box tests of group commit (savegroup_test.go).

// SetGroupSlots sets how many groups of saves s runs at once.
func SetGroupSlots(s *Store, n int) {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	s.groups.slots = n
}

// OnGroup makes every group of saves call fn with its size before it runs.
func OnGroup(s *Store, fn func(size int)) {
	s.groups.onGroup.Store(&fn)
}

// QueuedSaves is the number of saves waiting for a group.
func QueuedSaves(s *Store) int {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	return len(s.groups.queue)
}
