package meta

import (
	"github.com/hivesync/hivesync/server/apierror"
)

func invalidTimestamp(err error) error {
	return apierror.InvalidArgument("client_time", err.Error())
}
