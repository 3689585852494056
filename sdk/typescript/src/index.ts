/**
 * `@hivesync/sdk`: the HiveSync contract (`hivesync.v1`) for TypeScript.
 *
 * This entry point is transport-neutral: generated messages and service
 * descriptors, the header interceptor, sign-in (device flow) and the token
 * manager (`AuthSession`), typed error details, access rules and the
 * realtime `EventStream` (over any WHATWG `WebSocket`).
 * Import a ready client factory from `@hivesync/sdk/node` (Node.js) or
 * `@hivesync/sdk/web` (browsers, React Native).
 *
 * @module
 */
export {
  PLUGIN_PROTOCOL_VERSION,
  PLUGIN_VERSION_HEADER,
  createHiveSyncClientFromTransport,
  hiveSyncInterceptor,
  type HiveSyncClient,
  type HiveSyncClientOptions,
  type TokenProvider,
} from "./client.js";
export {
  Code,
  ConnectError,
  conflict,
  entitlementRequired,
  errorCode,
  hiveSyncErrorDetails,
  limitExceeded,
  rateLimited,
  upgradeRequired,
  type HiveSyncErrorDetail,
} from "./errors.js";
export { restError, restJson } from "./rest.js";
export {
  isRetryableSaveError,
  isTransportError,
  saveFile,
  type SaveFileOptions,
  type SaveResult,
} from "./files.js";
export {
  AUTHORIZATION_SERVER_METADATA_PATH,
  AccessDeniedError,
  AuthSession,
  DeviceCodeExpiredError,
  MemoryTokenStore,
  OAuthError,
  SignedOutError,
  approveDeviceLogin,
  deviceLogin,
  fetchAuthorizationServerMetadata,
  isSignedOut,
  type AuthSessionOptions,
  type AuthorizationServerMetadata,
  type DeviceLoginDecision,
  type DeviceLoginOptions,
  type DeviceLoginPrompt,
  type OAuthClientOptions,
  type OAuthEndpoints,
  type SignedOutReason,
  type TokenSet,
  type TokenStore,
} from "./auth.js";
export { accessRule, eventRegistry, eventSpec, knownEventTypes } from "./access.js";
export {
  BROADCAST_CHANNEL,
  EVENT_STREAM_PATH,
  EventStream,
  EventStreamError,
  SUBPROTOCOL_BINARY,
  SUBPROTOCOL_JSON,
  StreamRevokedError,
  StreamUpgradeRequiredError,
  eventStreamUrl,
  projectChannel,
  userChannel,
  type ChannelSubscription,
  type EventStreamOptions,
  type EventStreamState,
  type EventStreamStateDetail,
  type ReconnectOptions,
  type StreamTokenProvider,
  type StreamTokenRequest,
  type WebSocketConstructor,
  type WebSocketInit,
  type WebSocketLike,
} from "./event-stream.js";

// Generated code: every message type, schema, enum, extension and service.
export * from "./gen/hivesync/v1/access_pb.js";
export * from "./gen/hivesync/v1/auth_service_pb.js";
export * from "./gen/hivesync/v1/device_service_pb.js";
export * from "./gen/hivesync/v1/entitlement_service_pb.js";
export * from "./gen/hivesync/v1/file_service_pb.js";
export * from "./gen/hivesync/v1/project_service_pb.js";
export * from "./gen/hivesync/v1/identity_pb.js";
export * from "./gen/hivesync/v1/errors_pb.js";
export * from "./gen/hivesync/v1/events_pb.js";
export * from "./gen/hivesync/v1/meta_service_pb.js";
