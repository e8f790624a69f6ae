// Seeded pseudo-random streams. Every identifier the emulator invents (uIds, sTokens, eventIds,
// notificationIds, versionIds, invite codes, idHashes) comes from one of these, so two emulators
// started with the same seed and driven by the same requests answer byte for byte the same.
// Each purpose has its own stream: the order of, say, notification deliveries cannot shift the
// event ids a later request receives.

// 128-bit string hash (four 32-bit lanes, murmur-style mixing) used to seed a stream.
function hash128(text: string): [number, number, number, number] {
  let h1 = 0x6a09e667;
  let h2 = 0xbb67ae85;
  let h3 = 0x3c6ef372;
  let h4 = 0xa54ff53a;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 0x85ebca6b);
    h2 = h3 ^ Math.imul(h2 ^ k, 0xc2b2ae35);
    h3 = h4 ^ Math.imul(h3 ^ k, 0x27d4eb2f);
    h4 = h1 ^ Math.imul(h4 ^ k, 0x165667b1);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 16), 0x85ebca6b);
  h2 = Math.imul(h4 ^ (h2 >>> 13), 0xc2b2ae35);
  h3 = Math.imul(h1 ^ (h3 >>> 16), 0x27d4eb2f);
  h4 = Math.imul(h2 ^ (h4 >>> 13), 0x165667b1);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

export interface Random {
  /** Uniform 32-bit unsigned integer. */
  uint32(): number;
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  bytes(n: number): Buffer;
  /** `n` lower-case hex digits. */
  hex(n: number): string;
  /** `n` decimal digits (the first one non-zero). */
  digits(n: number): string;
  /** An RFC 4122 version-4 UUID, lower case. */
  uuid(): string;
}

export function createRandom(seed: number, stream: string): Random {
  let [a, b, c, d] = hash128(`${seed}\u0000${stream}`);
  // sfc32: small, fast, passes PractRand for our purposes.
  const uint32 = (): number => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) uint32();
  const bytes = (n: number): Buffer => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      const v = uint32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  };
  return {
    uint32,
    float: () => uint32() / 0x100000000,
    int: (n) => Math.floor((uint32() / 0x100000000) * n),
    bytes,
    hex: (n) =>
      bytes(Math.ceil(n / 2))
        .toString("hex")
        .slice(0, n),
    digits: (n) => {
      let s = String(1 + Math.floor((uint32() / 0x100000000) * 9));
      while (s.length < n) s += String(Math.floor((uint32() / 0x100000000) * 10));
      return s;
    },
    uuid: () => {
      const b16 = bytes(16);
      b16[6] = (b16[6] & 0x0f) | 0x40;
      b16[8] = (b16[8] & 0x3f) | 0x80;
      const h = b16.toString("hex");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
  };
}
