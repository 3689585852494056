/**
 * Typed error details. HiveSync never asks a client to parse an error
 * message: every actionable failure carries a protobuf detail, and these
 * helpers return it as a typed message.
 *
 * @module
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ConflictSchema,
  EntitlementRequiredSchema,
  LimitExceededSchema,
  RateLimitedSchema,
  UpgradeRequiredSchema,
  type Conflict,
  type EntitlementRequired,
  type LimitExceeded,
  type RateLimited,
  type UpgradeRequired,
} from "./gen/hivesync/v1/errors_pb.js";

/** One typed HiveSync error detail, tagged with its kind. */
export type HiveSyncErrorDetail =
  | { kind: "upgradeRequired"; value: UpgradeRequired }
  | { kind: "entitlementRequired"; value: EntitlementRequired }
  | { kind: "conflict"; value: Conflict }
  | { kind: "limitExceeded"; value: LimitExceeded }
  | { kind: "rateLimited"; value: RateLimited };

function asConnectError(err: unknown): ConnectError | undefined {
  return err instanceof ConnectError ? err : undefined;
}

function first<Desc extends DescMessage>(err: unknown, desc: Desc): MessageShape<Desc> | undefined {
  return asConnectError(err)?.findDetails(desc)[0];
}

/**
 * The `UpgradeRequired` detail of a failed call (code `failed_precondition`):
 * the client build or plugin protocol is older than the server supports.
 * Returns `undefined` when `err` is not a ConnectError or carries no such detail.
 */
export function upgradeRequired(err: unknown): UpgradeRequired | undefined {
  return first(err, UpgradeRequiredSchema);
}

/**
 * The `EntitlementRequired` detail (code `permission_denied`): the caller's
 * tier does not unlock the feature. Carries the intercept text and deep link.
 */
export function entitlementRequired(err: unknown): EntitlementRequired | undefined {
  return first(err, EntitlementRequiredSchema);
}

/**
 * The `Conflict` detail (code `aborted`): a save named a base revision that is
 * no longer the head. Nothing was written; show a diff/merge view.
 */
export function conflict(err: unknown): Conflict | undefined {
  return first(err, ConflictSchema);
}

/**
 * The `LimitExceeded` detail (code `invalid_argument` or `resource_exhausted`):
 * a size or quota limit would be passed. Nothing was written.
 */
export function limitExceeded(err: unknown): LimitExceeded | undefined {
  return first(err, LimitExceededSchema);
}

/**
 * The `RateLimited` detail (code `resource_exhausted`): wait `retryAfter`
 * before trying again.
 */
export function rateLimited(err: unknown): RateLimited | undefined {
  return first(err, RateLimitedSchema);
}

/**
 * Every typed HiveSync detail attached to `err`, in a tagged union convenient
 * for a `switch`. Empty when `err` is not a ConnectError or has no HiveSync
 * details (unknown detail types are skipped).
 */
export function hiveSyncErrorDetails(err: unknown): HiveSyncErrorDetail[] {
  const ce = asConnectError(err);
  if (!ce) {
    return [];
  }
  return [
    ...ce.findDetails(UpgradeRequiredSchema).map((value) => ({ kind: "upgradeRequired" as const, value })),
    ...ce.findDetails(EntitlementRequiredSchema).map((value) => ({ kind: "entitlementRequired" as const, value })),
    ...ce.findDetails(ConflictSchema).map((value) => ({ kind: "conflict" as const, value })),
    ...ce.findDetails(LimitExceededSchema).map((value) => ({ kind: "limitExceeded" as const, value })),
    ...ce.findDetails(RateLimitedSchema).map((value) => ({ kind: "rateLimited" as const, value })),
  ];
}

/** The Connect code of `err`, or `undefined` when it is not a ConnectError. */
export function errorCode(err: unknown): Code | undefined {
  return asConnectError(err)?.code;
}

export { Code, ConnectError };
