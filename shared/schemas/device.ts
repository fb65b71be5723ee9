import { z } from "zod";
import { text } from "./text.js";

export const TOKEN_SCOPES = ["device_worker:run", "api"] as const;
export const TokenScopeSchema = z.enum(TOKEN_SCOPES);
export type TokenScope = z.infer<typeof TokenScopeSchema>;

export const DEVICE_PLATFORMS = ["macos", "ios", "chrome-extension"] as const;
export const DevicePlatformSchema = z.enum(DEVICE_PLATFORMS);
export type DevicePlatform = z.infer<typeof DevicePlatformSchema>;

export const IdSchema = text(128).pipe(z.string().regex(/^[A-Za-z0-9_-]+$/, "must be an id"));

export const CreateTokenBodySchema = z
  .object({
    name: text(120).pipe(z.string().trim().min(1)),
    scopes: z.array(TokenScopeSchema).min(1).max(TOKEN_SCOPES.length),
    orgId: IdSchema.optional().meta({ description: "Limits the token to one organization" }),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .meta({ id: "CreateTokenBody" });
export type CreateTokenBody = z.infer<typeof CreateTokenBodySchema>;

export const TokenInfoSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().meta({ description: "The token's first characters, to tell tokens apart" }),
    scopes: z.array(TokenScopeSchema),
    orgId: z.string().nullable(),
    deviceId: z.string().nullable(),
    platform: DevicePlatformSchema.nullable(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: "TokenInfo" });
export type TokenInfo = z.infer<typeof TokenInfoSchema>;

export const CreatedTokenSchema = TokenInfoSchema.extend({
  token: z.string().meta({ description: "`kiln_pat_…`, shown only now" }),
}).meta({ id: "CreatedToken" });

export const MintDeviceTokenBodySchema = z
  .object({
    platform: DevicePlatformSchema,
    label: text(120).optional(),
    orgId: IdSchema.optional().meta({ description: "Defaults to your personal organization" }),
  })
  .meta({ id: "MintDeviceTokenBody" });

export const MintedDeviceTokenSchema = z
  .object({ worker_id: z.string(), access_token: z.string(), platform: DevicePlatformSchema })
  .meta({ id: "MintedDeviceToken" });

/** Capabilities a platform may announce; `*` matches any suffix. Anything else is dropped. */
export const CAPABILITY_ALLOWLIST: Record<DevicePlatform, readonly string[]> = {
  macos: ["os.shell", "os.files", "os.notifications", "browser.*", "local_directory"],
  ios: ["ios.*"],
  "chrome-extension": ["browser.*"],
};

export function capabilityAllowed(platform: DevicePlatform, name: string): boolean {
  return CAPABILITY_ALLOWLIST[platform].some((p) => (p.endsWith(".*") ? name.startsWith(p.slice(0, -1)) && name.length > p.length - 1 : p === name));
}

export const PollBodySchema = z
  .object({
    worker_id: IdSchema,
    platform: DevicePlatformSchema.optional(),
    app_version: text(64).optional(),
    capabilities: z
      .record(text(128), z.boolean())
      .refine((r) => Object.keys(r).length <= 64, { message: "at most 64 capabilities" })
      .optional(),
    label: text(120).optional(),
    timezone: text(64).optional().meta({ description: "IANA timezone of the device, for its default watcher's schedule" }),
  })
  .meta({ id: "PollBody" });
export type PollBody = z.infer<typeof PollBodySchema>;

export const DeviceSchema = z
  .object({
    id: z.string(),
    orgId: z.string(),
    platform: DevicePlatformSchema,
    label: z.string().nullable(),
    appVersion: z.string().nullable(),
    capabilities: z.record(z.string(), z.boolean()),
    registeredAt: z.string().nullable().meta({ description: "Its first poll; null until then" }),
    lastSeenAt: z.string().nullable(),
    online: z.boolean().meta({ description: "Seen within the last 20 minutes" }),
    createdAt: z.string(),
  })
  .meta({ id: "Device" });
export type Device = z.infer<typeof DeviceSchema>;

export const RelabelDeviceBodySchema = z.object({ label: text(120).pipe(z.string().trim().min(1)) }).meta({ id: "RelabelDeviceBody" });
