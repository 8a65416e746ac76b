import { afterAll, describe, expect, it } from "vitest";
import { PUBLISH_GRACE_MS } from "../../src/ca/manager.js";
import { openManualCa } from "../helpers/ca.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const DAY = 86_400_000;

const openFresh = (name: string) =>
  openManualCa(`${tmp.dir}/${name}`, { rootTtlMs: 400 * DAY, caTtlMs: 7 * DAY, jwtKeyTtlMs: 7 * DAY });

describe("an emergency rotation waits until every process can publish the new key", () => {
  it.each([
    ["jwt", (ca: Awaited<ReturnType<typeof openFresh>>["ca"]) => ca.activeJwtKey()],
    ["x509_intermediate", (ca: Awaited<ReturnType<typeof openFresh>>["ca"]) => ca.activeIntermediate()],
  ] as const)("%s: the replaced key signs for the grace period, then the new one", async (kind, signer) => {
    const { clock, store, ca, lifecycle } = await openFresh(kind);
    try {
      const old = signer(ca).record.id;
      clock.advance(60_000);
      const fresh = await lifecycle.rotateNow(kind, "test");
      expect(ca.active(kind).record.id, "the database has switched at once").toBe(fresh.id);
      expect(ca.published(kind).map((k) => k.record.id)).toContain(fresh.id);
      expect(signer(ca).record.id, "but the replaced key still signs").toBe(old);
      clock.advance(PUBLISH_GRACE_MS - 1);
      expect(signer(ca).record.id).toBe(old);
      clock.advance(1);
      expect(signer(ca).record.id).toBe(fresh.id);
    } finally {
      store.close();
    }
  });

  it("does not wait when there is nothing valid to fall back to", async () => {
    const { clock, store, ca, lifecycle } = await openFresh("expired");
    try {
      const old = ca.activeJwtKey().record;
      clock.set(new Date(old.notAfter + 1));
      const fresh = await lifecycle.rotateNow("jwt", "test");
      expect(ca.activeJwtKey().record.id).toBe(fresh.id);
    } finally {
      store.close();
    }
  });

  it("does not delay a root rotation's new intermediate past the grace, and it chains to the new root", async () => {
    const { clock, store, ca, lifecycle } = await openFresh("root");
    try {
      const root = await lifecycle.rotateNow("x509_root", "test");
      clock.advance(PUBLISH_GRACE_MS);
      expect(ca.activeIntermediate().record.parentId).toBe(root.id);
    } finally {
      store.close();
    }
  });
});
