package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/events"
)

// FuzzDecodeFrame feeds arbitrary client frames to the decoder: it must
// never panic, must accept only frames that carry a payload, and what it
// accepts must survive a round trip in the same format.
func FuzzDecodeFrame(f *testing.F) {
	auth := &hivesyncv1.Event{Id: "1", Payload: &hivesyncv1.Event_Auth{Auth: &hivesyncv1.AuthEvent{Token: "t"}}}
	sub := &hivesyncv1.Event{Payload: &hivesyncv1.Event_Subscribe{Subscribe: &hivesyncv1.SubscribeEvent{
		Channels: []*hivesyncv1.ChannelPosition{{Channel: "project_sync:x", LastSequence: 7}}}}}
	for _, ev := range []*hivesyncv1.Event{auth, sub} {
		j, _ := protojson.Marshal(ev)
		b, _ := proto.Marshal(ev)
		f.Add(j, false)
		f.Add(b, true)
	}
	for _, seed := range []string{"", "{}", "null", `{"auth":null}`, `{"heartbeat":{},"auth":{}}`, `{"unknownField":1,"heartbeat":{}}`, "\xff\xfe", `{"sequence":"9999999999999999999999"}`} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		ev, err := events.DecodeFrame(data, binary)
		if err != nil {
			require.Nil(t, ev)
			return
		}
		require.NotNil(t, ev.GetPayload())
		var again *hivesyncv1.Event
		if binary {
			b, err := proto.Marshal(ev)
			require.NoError(t, err)
			again, err = events.DecodeFrame(b, true)
			require.NoError(t, err)
		} else {
			j, err := protojson.Marshal(ev)
			require.NoError(t, err)
			again, err = events.DecodeFrame(j, false)
			require.NoError(t, err)
		}
		require.True(t, proto.Equal(ev, again))
	})
}

func TestDecodeFrameRefusesFramesWithoutPayload(t *testing.T) {
	t.Parallel()
	_, err := events.DecodeFrame([]byte(`{"id":"x"}`), false)
	require.ErrorContains(t, err, "no payload")
	_, err = events.DecodeFrame([]byte(`{not json`), false)
	require.Error(t, err)
	ev, err := events.DecodeFrame([]byte(`{"futureField":true,"heartbeat":{}}`), false)
	require.NoError(t, err, "newer clients' fields are ignored")
	require.NotNil(t, ev.GetHeartbeat())
}
