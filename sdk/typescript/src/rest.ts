/**
 * Typed errors for plain REST calls (`/api/v1/...`). A REST error body is
 * either Connect's error JSON (`{"code":"failed_precondition","details":[{"type":…,"value":…}]}`)
 * or a google.rpc.Status JSON (`{"code":9,"details":[{"@type":…,…}]}`); both
 * become a {@link ConnectError}, so the same helpers (`upgradeRequired(err)`,
 * …) work for REST and Connect callers alike.
 *
 * @module
 */
import { createRegistry, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ConflictSchema,
  EntitlementRequiredSchema,
  LimitExceededSchema,
  RateLimitedSchema,
  UpgradeRequiredSchema,
} from "./gen/hivesync/v1/errors_pb.js";

const detailRegistry = createRegistry(
  ConflictSchema,
  EntitlementRequiredSchema,
  LimitExceededSchema,
  RateLimitedSchema,
  UpgradeRequiredSchema,
);

const codeByName: Record<string, Code> = {
  canceled: Code.Canceled,
  cancelled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

const codeByHttpStatus: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  409: Code.Aborted,
  429: Code.ResourceExhausted,
  499: Code.Canceled,
  501: Code.Unimplemented,
  503: Code.Unavailable,
  504: Code.DeadlineExceeded,
};

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}


function parseCode(v: JsonValue | undefined, status: number): Code {
  if (typeof v === "string" && v in codeByName) {
    return codeByName[v] as Code;
  }
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 16) {
    return v as Code;
  }
  return codeByHttpStatus[status] ?? Code.Unknown;
}

/**
 * Converts a failed REST response (HTTP status + parsed JSON body) into a
 * {@link ConnectError} whose details can be read with `upgradeRequired(err)`,
 * `conflict(err)` etc. Unknown detail types are kept (they are simply not
 * returned by the typed helpers).
 */
export function restError(status: number, body: unknown, headers?: HeadersInit): ConnectError {
  const json = body as JsonValue | undefined;
  const obj = isObject(json) ? json : {};
  const code = parseCode(obj["code"], status);
  const message = typeof obj["message"] === "string" ? obj["message"] : `HTTP ${status}`;
  const err = new ConnectError(message, code, headers);
  const details = Array.isArray(obj["details"]) ? obj["details"] : [];
  for (const d of details) {
    if (!isObject(d)) {
      continue;
    }
    try {
      if (typeof d["type"] === "string" && typeof d["value"] === "string") {
        // Connect error JSON.
        err.details.push({ type: d["type"], value: base64Decode(d["value"]), debug: d["debug"] });
      } else if (typeof d["@type"] === "string") {
        // google.rpc.Status JSON: each detail is a google.protobuf.Any in JSON form.
        const any = fromJson(AnySchema, d, { registry: detailRegistry, ignoreUnknownFields: true });
        const type = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
        err.details.push({ type, value: any.value });
      }
    } catch {
      // A detail we cannot decode is skipped, like ConnectError.findDetails does.
    }
  }
  return err;
}

/**
 * Reads a `fetch` Response from a REST route: returns the parsed JSON body
 * when the status is 2xx, otherwise throws the {@link restError} for it.
 */
export async function restJson(response: Response): Promise<unknown> {
  const text = await response.text();
  let body: unknown = undefined;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!response.ok) {
    throw restError(response.status, body, response.headers);
  }
  return body;
}
