package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// standingTables are the tables SessionPrincipal reads.
var standingWrite = regexp.MustCompile(`(?i)\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+(sessions|users|devices|entitlements)\b`)

// Every query that writes a table the authenticator reads is either
// wrapped to report the change to this node's cache (on Store and in
// transactions) or listed with the reason it changes nothing cached. A new
// query that revokes something without a wrapper would leave this node
// serving a revoked session until the trigger's notification arrives; this
// test names it.
func TestEveryStandingWriteIsReported(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../queries/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	name := regexp.MustCompile(`(?m)^-- name: (\w+) :\w+\s*$`)
	var writers []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		text := string(b)
		heads := name.FindAllStringSubmatchIndex(text, -1)
		for i, h := range heads {
			end := len(text)
			if i+1 < len(heads) {
				end = heads[i+1][0]
			}
			var sql strings.Builder
			for _, line := range strings.Split(text[h[1]:end], "\n") {
				if !strings.HasPrefix(strings.TrimSpace(line), "--") {
					sql.WriteString(line + "\n")
				}
			}
			if standingWrite.MatchString(sql.String()) {
				writers = append(writers, text[h[2]:h[3]])
			}
		}
	}
	require.Contains(t, writers, "SessionRevoke", "the scan finds the writers")

	methods := map[string][]string{} // receiver type -> methods declared in package store
	fset := token.NewFileSet()
	pkgFiles, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range pkgFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil {
				continue
			}
			if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
				if id, ok := star.X.(*ast.Ident); ok {
					methods[id.Name] = append(methods[id.Name], fn.Name.Name)
				}
			}
		}
	}

	for _, w := range writers {
		if _, ok := standingUnchanged[w]; ok {
			require.NotContains(t, standingWrites, w, "%s is listed both ways", w)
			continue
		}
		require.Contains(t, standingWrites, w, "%s writes sessions, users, devices or entitlements: wrap it in store/standing.go or list why it changes nothing cached", w)
	}
	for _, w := range standingWrites {
		require.True(t, slices.Contains(methods["Store"], w), "Store has no wrapper for %s", w)
		require.True(t, slices.Contains(methods["txQueries"], w), "txQueries has no wrapper for %s", w)
	}
}
