/**
 * Access rules and event specs read from the contract's custom options.
 *
 * The generated descriptors embed the full proto options, custom extensions
 * included, so `(hivesync.v1.access)` on every RPC and `(hivesync.v1.event)`
 * on every event payload field are available at run time with no server call.
 *
 * @module
 */
import {
  createFileRegistry,
  getOption,
  hasOption,
  type DescField,
  type DescMethod,
  type FileRegistry,
} from "@bufbuild/protobuf";
import { access, type AccessRule } from "./gen/hivesync/v1/access_pb.js";
import { event, EventSchema, type EventSpec } from "./gen/hivesync/v1/events_pb.js";
import type { GetEventSchemaResponse } from "./gen/hivesync/v1/meta_service_pb.js";

/**
 * The `(hivesync.v1.access)` rule of an RPC, e.g.
 * `accessRule(MetaService.method.getCompatibility).public === true`.
 * Use it to show the upgrade intercept (feature + `minTier`) before calling.
 * Returns `undefined` for a method that declares no rule.
 */
export function accessRule(method: DescMethod): AccessRule | undefined {
  return hasOption(method, access) ? getOption(method, access) : undefined;
}

/**
 * The `(hivesync.v1.event)` spec of one payload field of the WebSocket
 * envelope `hivesync.v1.Event`, or `undefined` for a field without one.
 */
export function eventSpec(field: DescField): EventSpec | undefined {
  return hasOption(field, event) ? getOption(field, event) : undefined;
}

/**
 * Every event type this SDK was generated with, keyed by wire name
 * (`"save_file"`, `"admin.message"`, ...), with the envelope field carrying it.
 */
export function knownEventTypes(): Map<string, { spec: EventSpec; field: DescField }> {
  const out = new Map<string, { spec: EventSpec; field: DescField }>();
  for (const field of EventSchema.fields) {
    const spec = eventSpec(field);
    if (spec) {
      out.set(spec.eventType, { spec, field });
    }
  }
  return out;
}

/**
 * Builds a registry from the descriptors served by `GetEventSchema`, so events
 * newer than this SDK can still be decoded dynamically (`fromBinary` /
 * `fromJson` with `registry.getMessage(name)`).
 */
export function eventRegistry(schema: GetEventSchemaResponse): FileRegistry {
  if (!schema.descriptors) {
    throw new Error("GetEventSchemaResponse carries no descriptors");
  }
  return createFileRegistry(schema.descriptors);
}
