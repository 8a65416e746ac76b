import { statSync } from "node:fs";
import { afterAll, describe, expect, it, vi } from "vitest";
import { openCa } from "../../src/ca/open-ca.js";
import { openManualCa } from "../helpers/ca.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const HOUR = 3_600_000;

const freshCa = (name: string) =>
  openManualCa(`${tmp.dir}/${name}`, { rootTtlMs: 1000 * HOUR, caTtlMs: 6 * HOUR, jwtKeyTtlMs: 6 * HOUR });

describe("CaManager.reload", () => {
  it("reads the key records again only when the store's key version changes or a held retired key expires", async () => {
    const { clock, store, ca, lifecycle } = await freshCa("reload");
    try {
      const reads = vi.spyOn(store, "listCaKeys");
      for (let i = 0; i < 5; i++) expect(await ca.reload()).toBe(false);
      expect(reads).not.toHaveBeenCalled();

      // another process rotates: a new version, read and reported once
      const { store: other, lifecycle: otherLifecycle } = await openCa(`${tmp.dir}/reload`, {}, clock);
      const old = ca.active("jwt").record.id;
      await otherLifecycle.rotateNow("jwt", "test");
      other.close();
      expect(await ca.reload()).toBe(true);
      expect(reads).toHaveBeenCalledTimes(1);
      expect(await ca.reload()).toBe(false);
      expect(reads).toHaveBeenCalledTimes(1);
      expect(ca.get(old)?.record.state).toBe("retired");

      // the retired key expires: dropped at the next reload although nothing in the store changed
      clock.advance(6 * HOUR + 1);
      expect(await ca.reload()).toBe(true);
      expect(ca.get(old)).toBeUndefined();
      expect(ca.records().find((r) => r.id === old)?.destroyedAt).toBeNull(); // not yet erased: that is the lifecycle's

      await lifecycle.tick();
      expect(ca.records().find((r) => r.id === old)?.destroyedAt).toBe(clock.now().getTime());
      expect((await store.listCaKeys()).find((r) => r.id === old)?.encryptedPrivateKey.length).toBe(0);
      // with no checkpoint thread (not a server) the erasure truncates the WAL itself
      expect(statSync(`${tmp.dir}/reload/tessera.db-wal`).size).toBe(0);
    } finally {
      store.close();
    }
  });

  it("forgets an intermediate's leaf issuer (and with it the key) once the retired intermediate has expired", async () => {
    const { clock, store, ca, lifecycle } = await freshCa("leaf-issuer");
    try {
      const old = ca.activeIntermediate().record.id;
      ca.leafIssuer(old, "https://ca.example/v1/crl");
      await lifecycle.rotateNow("x509_intermediate", "test");
      const cached = () => [...(ca as unknown as { leafIssuers: Map<string, unknown> }).leafIssuers.keys()];
      expect(cached()).toEqual([`${old} https://ca.example/v1/crl`]);
      clock.advance(6 * HOUR + 1);
      await ca.reload();
      expect(cached()).toEqual([]);
      expect(ca.get(old)).toBeUndefined();
    } finally {
      store.close();
    }
  });

  it("keeps an active key past its expiry (a CA down longer than a key's life must still rotate), and erases nothing live", async () => {
    const { clock, store, ca, lifecycle } = await freshCa("overdue");
    try {
      const active = ca.active("x509_intermediate").record.id;
      clock.advance(7 * HOUR);
      await ca.reload();
      expect(ca.get(active)).toBeDefined();
      await lifecycle.tick();
      // replaced (the JWT key too), and being retired and expired, erased in the same tick; nothing live is
      expect(ca.activeIntermediate().record.id).not.toBe(active);
      const records = await store.listCaKeys();
      expect(records.find((r) => r.id === active)).toMatchObject({ state: "retired", destroyedAt: clock.now().getTime() });
      expect(records.filter((r) => r.state === "retired")).toHaveLength(2);
      for (const r of records.filter((k) => k.state !== "retired")) {
        expect(r.destroyedAt, r.id).toBeNull();
        expect(r.encryptedPrivateKey.length, r.id).toBeGreaterThan(0);
        expect(ca.get(r.id), r.id).toBeDefined();
      }
    } finally {
      store.close();
    }
  });
});
