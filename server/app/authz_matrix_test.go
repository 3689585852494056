package app_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store/dbgen"
)

// matrixClient is the CLI client; the matrix mints its sessions directly, so
// it can hold any scope and the matrix can try each one alone.
var matrixClient = auth.Client{ID: "cli", Type: hivesyncv1.ClientType_CLIENT_TYPE_CLI}

// TestAuthorizationMatrix is generated from the service descriptors: every RPC
// of every service in the contract is called over real HTTP anonymously, with
// an expired token, with each scope its rule does not list, with a client type
// its rule does not allow, and against another user's resources, and must
// answer the documented code, never data.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	st := b.store

	mkUser := func(email string) dbgen.User {
		u, err := st.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
		require.NoError(t, err)
		return u
	}
	alice, bob := mkUser("alice@matrix.test"), mkUser("bob@matrix.test")
	// Alice is an admin, so admin-scope tokens are hers to hold; admin methods
	// act on any account by design, every other method only on her own.
	_, err := st.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "alice@matrix.test", IsAdmin: true})
	require.NoError(t, err)
	token := func(issuer *auth.Issuer, u dbgen.User, client auth.Client, scopes ...hivesyncv1.Scope) string {
		pair, err := issuer.StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: client, Scopes: scopes})
		require.NoError(t, err)
		return pair.AccessToken
	}
	allScopes := []hivesyncv1.Scope{}
	for v := range hivesyncv1.Scope_name {
		if v != 0 {
			allScopes = append(allScopes, hivesyncv1.Scope(v))
		}
	}
	// Bob's resources, which Alice must never reach.
	bobPair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: bob.ID, Client: auth.Clients["mobile"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_USER}})
	require.NoError(t, err)
	bobDevice, err := st.DeviceUpsert(ctx, dbgen.DeviceUpsertParams{ID: uuid.New(), UserID: bob.ID, Name: "bob's", ClientType: int16(hivesyncv1.ClientType_CLIENT_TYPE_MOBILE)})
	require.NoError(t, err)
	bobProject, err := st.ProjectInsert(ctx, dbgen.ProjectInsertParams{ID: uuid.New(), Name: "bob's", OwnerID: bob.ID})
	require.NoError(t, err)
	require.NoError(t, st.ProjectMemberInsert(ctx, dbgen.ProjectMemberInsertParams{ProjectID: bobProject.ID, UserID: bob.ID, Role: int16(hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER)}))
	bobFile, bobVersion := uuid.New(), uuid.New()
	_, err = st.FileInsert(ctx, dbgen.FileInsertParams{ID: bobFile, ProjectID: bobProject.ID, Path: "secret.txt", PathKey: "secret.txt", HeadVersionID: bobVersion})
	require.NoError(t, err)
	_, err = st.FileVersionInsert(ctx, dbgen.FileVersionInsertParams{ID: bobVersion, FileID: bobFile, Revision: 1, Content: "bob's secret", ContentSha256: "x", SizeBytes: 12, AuthorID: bob.ID})
	require.NoError(t, err)
	bobSnap, err := st.SnapshotInsert(ctx, dbgen.SnapshotInsertParams{ID: uuid.New(), ProjectID: bobProject.ID, CreatedBy: bob.ID})
	require.NoError(t, err)
	_, err = st.SnapshotCapture(ctx, dbgen.SnapshotCaptureParams{SnapshotID: bobSnap.ID, ProjectID: bobProject.ID})
	require.NoError(t, err)
	bobIDs := map[string]string{
		"snapshot_id": bobSnap.ID.String(),
		"session_id":  bobPair.SessionID, "device_id": bobDevice.ID.String(), "project_id": bobProject.ID.String(), "file_id": bobFile.String(),
		"base_revision_id": bobVersion.String(), "revision_id": bobVersion.String(), "from_revision_id": bobVersion.String(), "to_revision_id": bobVersion.String(),
	}

	past := func() time.Time { return time.Now().Add(-3 * time.Hour) }
	expiredIssuer := auth.NewIssuer(st, b.app.Keys(), auth.IssuerOptions{Issuer: b.cfg.IssuerURL, AccessTTL: time.Hour, RefreshTTL: time.Hour, Now: past})

	methods := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("hivesync.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			svc := f.Services().Get(i)
			for j := range svc.Methods().Len() {
				m := svc.Methods().Get(j)
				rule, ok := access.RuleOf(m)
				require.True(t, ok, m.FullName())
				methods++
				procedure := "/" + string(svc.FullName()) + "/" + string(m.Name())
				body := requestWithIDs(t, m, bobIDs)
				call := func(bearer string) string {
					if m.IsStreamingServer() {
						return callStreamCode(t, b, procedure, body, bearer)
					}
					return callCode(t, b, procedure, body, bearer)
				}
				name := string(m.FullName())

				anon := call("")
				if rule.GetPublic() {
					// Public methods may still refuse bad input (a rejected ID
					// token is unauthenticated), but never for lack of a token.
					anonCode, anonMsg := callCodeMessage(t, b, procedure, body, "")
					require.NotEqual(t, "not_found_procedure", anonCode, "%s is not mounted", name)
					require.NotContains(t, anonMsg, "needs a HiveSync access token", "%s is public", name)
					require.NotEqual(t, "permission_denied", anonCode, "%s is public", name)
					continue
				}
				require.Equal(t, "unauthenticated", anon, "%s anonymously", name)
				right := rule.GetScopes()[0]
				client := matrixClient
				if len(rule.GetClientTypes()) > 0 {
					client = clientOfType(t, rule.GetClientTypes()[0])
				}
				require.Equal(t, "unauthenticated", call(token(expiredIssuer, alice, client, right)), "%s with an expired token", name)
				require.Equal(t, "unauthenticated", call("garbage.token.here"), "%s with a malformed token", name)
				for _, s := range allScopes {
					if slices.Contains(rule.GetScopes(), s) {
						continue
					}
					require.Equal(t, "permission_denied", call(token(b.app.Issuer(), alice, client, s)), "%s with only scope %s", name, s)
				}
				if len(rule.GetClientTypes()) > 0 {
					for v := range hivesyncv1.ClientType_name {
						ct := hivesyncv1.ClientType(v)
						if ct == 0 || slices.Contains(rule.GetClientTypes(), ct) {
							continue
						}
						other := clientOfType(t, ct)
						require.Equal(t, "permission_denied", call(token(b.app.Issuer(), alice, other, right)), "%s from client type %s", name, ct)
					}
				}
				// Alice, properly authorized, aims at Bob's resources.
				got := call(token(b.app.Issuer(), alice, client, right))
				adminOnly := len(rule.GetScopes()) == 1 && rule.GetScopes()[0] == hivesyncv1.Scope_SCOPE_ADMIN
				if targetsResource(m, bobIDs) && !adminOnly { // admin methods act on any account by design
					require.Equal(t, "not_found", got, "%s against another user's resource", name)
				} else {
					require.NotContains(t, []string{"unauthenticated", "permission_denied"}, got, "%s with the right scope", name)
				}
			}
		}
		return true
	})
	require.Positive(t, methods)

	// Bob's resources are untouched by all of the above.
	p, err := b.app.Issuer().Verify(ctx, bobPair.AccessToken, time.Minute)
	require.NoError(t, err)
	require.Equal(t, bob.ID.String(), p.Subject)
	devices, err := st.DeviceListActive(ctx, bob.ID)
	require.NoError(t, err)
	require.Len(t, devices, 1)
	require.Equal(t, "bob's", devices[0].Name)
}

// requestWithIDs builds a valid JSON request for m with every *_id field set
// to the matching id in ids.
func requestWithIDs(t *testing.T, m protoreflect.MethodDescriptor, ids map[string]string) []byte {
	t.Helper()
	msg := dynamicpb.NewMessage(m.Input())
	fields := m.Input().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Kind() != protoreflect.StringKind || f.IsList() {
			continue
		}
		if id, ok := ids[string(f.Name())]; ok {
			msg.Set(f, protoreflect.ValueOfString(id))
		} else if !strings.HasSuffix(string(f.Name()), "_id") {
			msg.Set(f, protoreflect.ValueOfString("matrix")) // a valid value for every other text field
		}
	}
	b, err := protojson.Marshal(msg)
	require.NoError(t, err)
	return b
}

// targetsResource reports whether m's request names one of the resource
// kinds the matrix holds another user's instance of.
func targetsResource(m protoreflect.MethodDescriptor, ids map[string]string) bool {
	fields := m.Input().Fields()
	for i := range fields.Len() {
		if _, ok := ids[string(fields.Get(i).Name())]; ok {
			return true
		}
	}
	return false
}

// callCode makes a Connect JSON call and returns "ok" or the error code.
func callCode(t *testing.T, b *testBundle, procedure string, body []byte, bearer string) string {
	t.Helper()
	code, _ := callCodeMessage(t, b, procedure, body, bearer)
	return code
}

// callCodeMessage is callCode with the error message.
func callCodeMessage(t *testing.T, b *testBundle, procedure string, body []byte, bearer string) (string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.baseURL+procedure, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connect-Protocol-Version", "1")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := b.h1.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusOK {
		return "ok", ""
	}
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Code == "" {
		if resp.StatusCode == http.StatusNotFound {
			return "not_found_procedure", ""
		}
		t.Fatalf("%s: HTTP %d without a Connect error", procedure, resp.StatusCode)
	}
	return e.Code, e.Message
}

// callStreamCode makes a Connect server-streaming JSON call and returns "ok"
// or the error code of the end-of-stream message.
func callStreamCode(t *testing.T, b *testBundle, procedure string, body []byte, bearer string) string {
	t.Helper()
	framed := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
	req, err := http.NewRequest(http.MethodPost, b.baseURL+procedure, bytes.NewReader(append(framed, body...)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/connect+json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := b.h1.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode, procedure)
	for {
		var prefix [5]byte
		_, err := io.ReadFull(resp.Body, prefix[:])
		require.NoError(t, err, "%s: stream ended without an end message", procedure)
		msg := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
		_, err = io.ReadFull(resp.Body, msg)
		require.NoError(t, err)
		if prefix[0]&0x02 == 0 {
			continue // a data message
		}
		var end struct {
			Error *struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(msg, &end))
		if end.Error == nil {
			return "ok"
		}
		return end.Error.Code
	}
}

// clientOfType is the registered client of a client type, with every scope
// allowed so the matrix can pick any.
func clientOfType(t *testing.T, ct hivesyncv1.ClientType) auth.Client {
	t.Helper()
	for _, c := range auth.Clients {
		if c.Type == ct {
			return auth.Client{ID: c.ID, Type: ct}
		}
	}
	t.Fatalf("no registered client of type %s", ct)
	return auth.Client{}
}
