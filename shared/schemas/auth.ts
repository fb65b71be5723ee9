import { z } from "zod";
import { OrgMembershipSchema } from "./org.js";

const email = z.email().max(254).transform((v) => v.toLowerCase());
const password = z.string().min(8, "must be at least 8 characters").max(128);

export const SignUpBodySchema = z
  .object({
    email,
    password,
    name: z.string().trim().min(1).max(120),
    image: z.url().optional(),
    callbackURL: z.string().optional(),
    rememberMe: z.boolean().optional(),
  })
  .meta({ id: "SignUpBody" });

export const SignInBodySchema = z
  .object({
    email,
    password: z.string().min(1).max(128),
    callbackURL: z.string().optional(),
    rememberMe: z.boolean().optional(),
  })
  .meta({ id: "SignInBody" });

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
