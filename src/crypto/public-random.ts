import { randomBytes } from "node:crypto";

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * `n` bytes from the CSPRNG, drawn from a pool refilled 4 KiB at a time: a
 * call per serial number or `jti` cost ~8 µs under load (OpenSSL's RNG is
 * shared with the signing threads), a slice of the pool almost nothing. The
 * bytes wait in memory until handed out, so this is for values that become
 * public anyway; secrets (join tokens, keys) use `randomBytes`.
 */
export function publicRandomBytes(n: number): Buffer {
  if (n > POOL_BYTES) return randomBytes(n);
  if (offset + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const out = pool.subarray(offset, offset + n);
  offset += n;
  return out;
}
