package history

import (
	"fmt"
	"strings"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
)

// row is what the CSV and text exports show of an event besides its
// sequence, time and type.
type row struct {
	actor, device, fileID, path string
	revision                    int64
	summary                     string
}

// describe renders an event for people: who, which file, and a one-line
// summary in English. Unknown or future payloads fall back to their type.
func describe(ev *hivesyncv1.Event) row {
	switch p := ev.GetPayload().(type) {
	case *hivesyncv1.Event_SaveFile:
		e := p.SaveFile
		return row{actor: e.GetAuthorUserId(), device: e.GetDeviceId(), fileID: e.GetFileId(), path: e.GetPath(), revision: e.GetRevision(),
			summary: fmt.Sprintf("saved %s (revision %d)", e.GetPath(), e.GetRevision())}
	case *hivesyncv1.Event_VersionState:
		e := p.VersionState
		r := row{actor: e.GetActorUserId(), fileID: e.GetFileId(), path: e.GetPath(), revision: e.GetRevision()}
		switch e.GetState() {
		case hivesyncv1.VersionState_VERSION_STATE_CREATED:
			r.summary = "created " + e.GetPath()
		case hivesyncv1.VersionState_VERSION_STATE_MOVED:
			r.summary = fmt.Sprintf("moved %s to %s", or(e.GetPreviousPath(), "a file"), e.GetPath())
		case hivesyncv1.VersionState_VERSION_STATE_DELETED:
			r.summary = "deleted " + e.GetPath()
		case hivesyncv1.VersionState_VERSION_STATE_RESTORED:
			r.summary = "restored deleted file " + e.GetPath()
		case hivesyncv1.VersionState_VERSION_STATE_SNAPSHOT_RESTORED:
			r.summary = fmt.Sprintf("restored %s from a snapshot (revision %d)", e.GetPath(), e.GetRevision())
		default:
			r.summary = "changed " + e.GetPath()
		}
		return r
	case *hivesyncv1.Event_LockChanged:
		e := p.LockChanged
		verb := "stopped editing"
		if e.GetHeld() {
			verb = "started editing"
		}
		return row{actor: e.GetUserId(), device: e.GetDeviceId(), fileID: e.GetFileId(), summary: verb + " a file"}
	case *hivesyncv1.Event_SaveConflict:
		e := p.SaveConflict
		return row{actor: e.GetAuthorUserId(), device: e.GetDeviceId(), fileID: e.GetFileId(), path: e.GetPath(), revision: e.GetHeadRevision(),
			summary: fmt.Sprintf("refused a stale save of %s (another device had saved revision %d; nothing was overwritten)", e.GetPath(), e.GetHeadRevision())}
	case *hivesyncv1.Event_SnapshotCreated:
		e := p.SnapshotCreated
		return row{actor: e.GetActorUserId(), summary: fmt.Sprintf("took snapshot %s of %d files", label(e.GetLabel()), e.GetFileCount())}
	case *hivesyncv1.Event_SnapshotRestored:
		e := p.SnapshotRestored
		return row{actor: e.GetActorUserId(), summary: fmt.Sprintf("restored snapshot %s (%d of %d files changed)", label(e.GetLabel()), e.GetRestoredCount(), e.GetFileCount())}
	case *hivesyncv1.Event_MemberChanged:
		e := p.MemberChanged
		r := row{actor: e.GetActorUserId()}
		role := roleName(e.GetRole())
		switch e.GetChange() {
		case hivesyncv1.MemberChange_MEMBER_CHANGE_JOINED:
			r.summary = fmt.Sprintf("user %s joined as %s", e.GetUserId(), role)
		case hivesyncv1.MemberChange_MEMBER_CHANGE_ROLE_CHANGED:
			r.summary = fmt.Sprintf("user %s is now %s", e.GetUserId(), role)
		case hivesyncv1.MemberChange_MEMBER_CHANGE_REMOVED:
			if e.GetUserId() == e.GetActorUserId() {
				r.summary = fmt.Sprintf("user %s left the project", e.GetUserId())
			} else {
				r.summary = fmt.Sprintf("user %s was removed from the project", e.GetUserId())
			}
		default:
			r.summary = "membership of user " + e.GetUserId() + " changed"
		}
		return r
	case *hivesyncv1.Event_ProjectPurged:
		return row{actor: p.ProjectPurged.GetActorUserId(), summary: "purged the project's files, versions, snapshots and history"}
	}
	return row{summary: ev.GetEventType()}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func label(l string) string {
	if l == "" {
		return "(unlabelled)"
	}
	return fmt.Sprintf("%q", l)
}

func roleName(r hivesyncv1.ProjectRole) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "PROJECT_ROLE_"))
}
