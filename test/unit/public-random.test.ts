import { describe, expect, it } from "vitest";
import { publicRandomBytes } from "../../src/crypto/public-random.js";

describe("publicRandomBytes", () => {
  it("hands out every slice once, across pool refills", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(publicRandomBytes(16).toString("hex")); // ~8 refills of the 4 KiB pool
    expect(seen.size).toBe(2000);
  });

  it("gives odd sizes and sizes beyond the pool in full", () => {
    for (const n of [1, 3, 4095, 4096, 10_000]) expect(publicRandomBytes(n)).toHaveLength(n);
    expect(publicRandomBytes(10_000).some((b) => b !== 0)).toBe(true);
  });
});
