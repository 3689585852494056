package files

import (
	"container/list"
	"sync"

	"github.com/google/uuid"
)

// recentVersionsBytes bounds the content the recent-versions cache holds.
const recentVersionsBytes = 32 << 20

// recentVersions holds the versions this node's saves created last, until a
// save uses one as its base or it is pushed out by newer ones. An editor
// saves on the head its previous save returned, so that save finds its base
// here and skips the read (FileSaveBase): it goes straight to the
// compare-and-set write, which checks in the database everything the read
// would have (head, path, role, room, key). A write that finds the file
// changed falls back to the read. Versions never change, so an entry can be
// missing but never wrong; with several nodes a save served by another node
// simply reads.
type recentVersions struct {
	mu    sync.Mutex
	bytes int
	byID  map[uuid.UUID]*list.Element
	order list.List // of recentVersion, oldest first
}

// recentVersion is what a save needs of its base besides what it checks in
// the write: the base's content (for the line counts), and its file's project
// and path (for the save_file event; the write checks the path still holds,
// and files never change project).
type recentVersion struct {
	id, fileID, projectID uuid.UUID
	path                  string
	revision              int64
	content               string
}

func newRecentVersions() *recentVersions {
	return &recentVersions{byID: make(map[uuid.UUID]*list.Element)}
}

// add remembers v, forgetting the oldest versions beyond the size bound.
func (r *recentVersions) add(v recentVersion) {
	size := len(v.content) + len(v.path) + 128
	if size > recentVersionsBytes/4 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[v.id]; ok {
		return
	}
	r.byID[v.id] = r.order.PushBack(v)
	r.bytes += size
	for r.bytes > recentVersionsBytes {
		oldest := r.order.Remove(r.order.Front()).(recentVersion)
		delete(r.byID, oldest.id)
		r.bytes -= len(oldest.content) + len(oldest.path) + 128
	}
}

// take returns and forgets version id of file, if it is here: a base serves
// one save (the next one is on the version that save creates).
func (r *recentVersions) take(id, fileID uuid.UUID) (recentVersion, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byID[id]
	if !ok {
		return recentVersion{}, false
	}
	v := r.order.Remove(e).(recentVersion)
	delete(r.byID, id)
	r.bytes -= len(v.content) + len(v.path) + 128
	return v, v.fileID == fileID
}
