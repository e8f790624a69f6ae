// Password hashing (scrypt), secret hashing for lookups, random secrets, HS256 access tokens and secrets at rest (AES-256-GCM).
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, scrypt as scryptCb, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, keylen: number, opts: object) => Promise<Buffer>;
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !key) return false;
  const expected = Buffer.from(key, "base64");
  const actual = await scrypt(password, Buffer.from(salt, "base64"), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(actual, expected);
}

/** Secrets presented on every request (client secrets, SCIM and session tokens) are high-entropy, so a fast hash is enough. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("base64url");
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");

export function signJwt(claims: Record<string, unknown>, key: Buffer): string {
  const head = b64({ alg: "HS256", typ: "JWT" });
  const body = b64(claims);
  const sig = createHmac("sha256", key).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

export function verifyJwt(token: string, key: Buffer): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const sig = createHmac("sha256", key).update(`${parts[0]}.${parts[1]}`).digest("base64url");
  if (!safeEqual(sig, parts[2])) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    if (typeof claims.exp !== "number" || claims.exp * 1000 < Date.now()) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

// --- secrets at rest (TOK-8) ------------------------------------------------------------------------
// AES-256-GCM with a key derived from the instance key (config.secretKey) by HKDF-SHA256, so the raw
// instance key is never used for encryption directly. Stored form: "v1." + base64(iv | tag | ciphertext).
// `context` (e.g. "vpp_tokens:<tenant>:<id>") is bound as additional data: a ciphertext copied onto
// another row does not decrypt there.

const derivedKeys = new WeakMap<Buffer, Map<string, Buffer>>();

function derivedKey(secretKey: Buffer, purpose: string): Buffer {
  let byPurpose = derivedKeys.get(secretKey);
  if (!byPurpose) derivedKeys.set(secretKey, (byPurpose = new Map()));
  let key = byPurpose.get(purpose);
  if (!key) {
    key = Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), `allot/${purpose}`, 32));
    byPurpose.set(purpose, key);
  }
  return key;
}

export function encryptSecret(plaintext: string, secretKey: Buffer, context = ""): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", derivedKey(secretKey, "secret-encryption/v1"), iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
}

/** Throws when the ciphertext was altered, belongs to another context or another instance key. */
export function decryptSecret(stored: string, secretKey: Buffer, context = ""): string {
  if (!stored.startsWith("v1.")) throw new Error("unknown secret encoding");
  const raw = Buffer.from(stored.slice(3), "base64");
  if (raw.length < 28) throw new Error("secret ciphertext is too short");
  const decipher = createDecipheriv("aes-256-gcm", derivedKey(secretKey, "secret-encryption/v1"), raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(context, "utf8"));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}

/** A keyed fingerprint (HMAC-SHA256 under a derived key): equal inputs match, and it cannot be checked without the instance key. */
export function secretFingerprint(value: string, secretKey: Buffer, purpose: string): string {
  return createHmac("sha256", derivedKey(secretKey, `fingerprint/${purpose}`)).update(value).digest("base64url");
}
