package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/app"
)

// Every version records its diff against the version before it: lines
// added, lines removed and hunks, as DiffVersions shows that diff.
func TestVersionsRecordTheirDiffMetadata(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "meta@versions.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Meta"})
	require.NoError(t, err)
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("line %d\n", i))
	}
	text := func(edit map[int]string) string {
		var sb strings.Builder
		for i, l := range lines {
			if e, ok := edit[i]; ok {
				l = e
			}
			sb.WriteString(l)
		}
		return sb.String()
	}
	f, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: "m.txt", Content: text(nil)})
	require.NoError(t, err)
	first := f.GetFile().GetHead()
	require.EqualValues(t, 40, first.GetLinesAdded())
	require.EqualValues(t, 1, first.GetHunks(), "a new file is one hunk")
	require.NotNil(t, first.Hunks)

	// Two edits 20 lines apart are two hunks; two 4 lines apart share one.
	two, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: first.GetId(),
		Content: text(map[int]string{5: "five\n", 25: "twenty-five\n", 29: "twenty-nine\n"})})
	require.NoError(t, err)
	v := two.GetVersion()
	require.Equal(t, [3]int32{3, 3, 2}, [3]int32{v.GetLinesAdded(), v.GetLinesRemoved(), v.GetHunks()})
	diff, err := ed.files.DiffVersions(ctx, &hivesyncv1.DiffVersionsRequest{FileId: f.GetFile().GetId(), FromRevisionId: first.GetId(), ToRevisionId: v.GetId()})
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(diff.GetUnifiedDiff(), "\n@@ "), "as DiffVersions shows it")

	// The same content again changes nothing: no hunk.
	same, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: v.GetId(),
		Content: text(map[int]string{5: "five\n", 25: "twenty-five\n", 29: "twenty-nine\n"})})
	require.NoError(t, err)
	require.NotNil(t, same.GetVersion().Hunks)
	require.Zero(t, same.GetVersion().GetHunks())

	// Listings carry the same metadata.
	versions, err := ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err)
	require.Len(t, versions.GetVersions(), 3)
	require.EqualValues(t, 2, versions.GetVersions()[1].GetHunks())
	got, err := ed.files.GetVersion(ctx, &hivesyncv1.GetVersionRequest{FileId: f.GetFile().GetId(), RevisionId: v.GetId()})
	require.NoError(t, err)
	require.EqualValues(t, 2, got.GetVersion().GetHunks())
	list, err := ed.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: proj.GetProject().GetId()})
	require.NoError(t, err)
	require.NotNil(t, list.GetFiles()[0].GetHead().Hunks)
}
