import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

/** A token encrypted with AES-256-GCM: what is kept at rest instead of the token. */
export interface SealedToken {
  iv: string;
  tag: string;
  data: string;
}

/**
 * The key: derived from Kiln's internal key, itself an HMAC of BETTER_AUTH_SECRET, under its own
 * label, so it is never the secret itself and rotating the secret rotates it.
 */
function tokenKey(internalKey: string): Buffer {
  return createHmac("sha256", internalKey).update("kiln/github-token-at-rest/v1").digest();
}

export function sealToken(token: string, internalKey: string): SealedToken {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", tokenKey(internalKey), iv);
  const data = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
  return { iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64"), data: data.toString("base64") };
}

export function openToken(sealed: SealedToken, internalKey: string): string {
  const decipher = createDecipheriv("aes-256-gcm", tokenKey(internalKey), Buffer.from(sealed.iv, "base64"));
  decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64")), decipher.final()]).toString("utf8");
}
