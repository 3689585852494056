package access

import (
	"fmt"
	"strconv"
	"strings"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/apierror"
)

// PluginVersionHeader carries the plugin protocol version of the caller (spec §27).
const PluginVersionHeader = "X-HiveSync-Plugin-Version"

// VersionPolicy is the range of client and plugin versions the server accepts.
type VersionPolicy struct {
	// MinPluginProtocol is MIN_PLUGIN_PROTOCOL_VERSION.
	MinPluginProtocol int32
	// CurrentPluginProtocol is CURRENT_PLUGIN_PROTOCOL_VERSION.
	CurrentPluginProtocol int32
	// MinClient is the oldest client build accepted (bootstrap min_client_version).
	MinClient int32
	// UpgradeURL is where outdated clients are sent.
	UpgradeURL string
}

// PluginVersion parses the header value: zero when absent, an
// invalid_argument error when malformed, an UpgradeRequired error when below
// the minimum. Versions newer than current are accepted: a newer plugin must
// keep working against an older server that has not been upgraded yet.
func (v VersionPolicy) PluginVersion(header string) (int32, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(header, 10, 32)
	if err != nil || n < 1 {
		return 0, apierror.InvalidArgument(PluginVersionHeader, fmt.Sprintf("%q is not a positive integer protocol version", header))
	}
	version := int32(n)
	if version < v.MinPluginProtocol {
		return version, apierror.UpgradeRequired(&hivesyncv1.UpgradeRequired{
			Reason:              hivesyncv1.UpgradeRequired_REASON_PLUGIN_PROTOCOL_TOO_OLD,
			ClientVersion:       version,
			MinSupportedVersion: v.MinPluginProtocol,
			CurrentVersion:      v.CurrentPluginProtocol,
			UpgradeUrl:          v.UpgradeURL,
			Message: fmt.Sprintf("This HiveSync plugin speaks protocol %d; the server needs at least %d. Update the plugin to continue.",
				version, v.MinPluginProtocol),
		})
	}
	return version, nil
}

// ClientVersion checks a client's integer build against MinClient; zero means
// the client did not say and is let through.
func (v VersionPolicy) ClientVersion(build int32) error {
	if build < 0 {
		return apierror.InvalidArgument("client_version", "must not be negative")
	}
	if build == 0 || build >= v.MinClient {
		return nil
	}
	return apierror.UpgradeRequired(&hivesyncv1.UpgradeRequired{
		Reason:              hivesyncv1.UpgradeRequired_REASON_CLIENT_TOO_OLD,
		ClientVersion:       build,
		MinSupportedVersion: v.MinClient,
		UpgradeUrl:          v.UpgradeURL,
		Message:             fmt.Sprintf("This HiveSync app (build %d) is no longer supported; build %d or newer is needed. Please update.", build, v.MinClient),
	})
}
