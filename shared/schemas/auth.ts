import { z } from "zod";
import { OrgMembershipSchema } from "./org.js";
import { text } from "./text.js";

const email = text(254).email().transform((v) => v.toLowerCase());
const password = text(128).min(8, "must be at least 8 characters");

export const SignUpBodySchema = z
  .object({
    email,
    password,
    name: text(120).trim().min(1),
    image: text(2048).url().optional(),
    callbackURL: text(2048).optional(),
    rememberMe: z.boolean().optional(),
  })
  .meta({ id: "SignUpBody" });

export const SignInBodySchema = z
  .object({
    email,
    password: text(128).min(1),
    callbackURL: text(2048).optional(),
    rememberMe: z.boolean().optional(),
  })
  .meta({ id: "SignInBody" });

export const UpdateUserBodySchema = z
  .object({
    name: text(120).trim().min(1).optional(),
    image: text(2048).url().nullable().optional(),
  })
  .strict()
  .meta({ id: "UpdateUserBody" });

export const StatusResultSchema = z.object({ status: z.boolean() }).meta({ id: "StatusResult" });

export const UserSchema = z
  .object({ id: z.string(), email: z.string(), name: z.string() })
  .meta({ id: "User" });

export const AuthResultSchema = z
  .object({
    token: z.string().meta({ description: "Session token; send it as `Authorization: Bearer <token>`" }),
    user: UserSchema.passthrough(),
  })
  .meta({ id: "AuthResult" });

export const SignOutResultSchema = z.object({ success: z.boolean() }).meta({ id: "SignOutResult" });

export const MeSchema = z
  .object({
    user: UserSchema,
    session: z.object({ id: z.string(), expiresAt: z.string() }),
    organizations: z.array(OrgMembershipSchema),
  })
  .meta({ id: "Me" });
export type Me = z.infer<typeof MeSchema>;

export const HealthSchema = z
  .object({
    ok: z.literal(true),
    version: z.string(),
    db: z.enum(["pglite", "postgres"]),
    actors: z.enum(["local", "engine"]),
  })
  .meta({ id: "Health" });
export type Health = z.infer<typeof HealthSchema>;
