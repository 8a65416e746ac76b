import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createKeyStore, MASTER_KEY_FILE, openKeyStore } from "../../src/ca/key-store.js";
import { generateKeyPair } from "../../src/crypto/key-types.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const freshDir = () => {
  const dir = join(tmp.dir, String(n++));
  mkdirSync(dir);
  return dir;
};

describe("CA key protection at rest", () => {
  it("seals with a generated 0600 key file and opens the same key again", () => {
    const dir = freshDir();
    const { store, settings } = createKeyStore(dir, {});
    expect(settings.key_protection).toBe("key_file");
    expect(statSync(join(dir, MASTER_KEY_FILE)).mode & 0o777).toBe(0o600);
    const { privateKey } = generateKeyPair("ec-p256");
    const blob = store.seal(privateKey, "ca-1");
    expect(blob.includes(privateKey.export({ type: "pkcs8", format: "der" }))).toBe(false);
    const reopened = openKeyStore(dir, settings as unknown as Record<string, string>, {});
    expect(reopened.open(blob, "ca-1").export({ type: "pkcs8", format: "der" })).toEqual(
      privateKey.export({ type: "pkcs8", format: "der" }),
    );
  });

  it("rejects/a blob moved onto another key id", () => {
    const { store } = createKeyStore(freshDir(), {});
    const blob = store.seal(generateKeyPair("ec-p256").privateKey, "ca-1");
    expect(() => store.open(blob, "ca-2")).toThrow(expect.objectContaining({ code: "wrong_passphrase" }));
  });

  it("rejects/a wrong passphrase with a clear error", () => {
    const dir = freshDir();
    const { settings } = createKeyStore(dir, { TESSERA_PASSPHRASE: "correct horse battery" });
    expect(settings.key_protection).toBe("passphrase");
    const s = settings as unknown as Record<string, string>;
    expect(() => openKeyStore(dir, s, { TESSERA_PASSPHRASE: "wrong horse battery" })).toThrow("wrong passphrase");
    expect(() => openKeyStore(dir, s, {})).toThrow("set TESSERA_PASSPHRASE");
    expect(() => openKeyStore(dir, s, { TESSERA_PASSPHRASE: "correct horse battery" })).not.toThrow();
  });

  it("rejects/a key file readable by others", () => {
    const dir = freshDir();
    const { settings } = createKeyStore(dir, {});
    chmodSync(join(dir, MASTER_KEY_FILE), 0o644);
    expect(() => openKeyStore(dir, settings as unknown as Record<string, string>, {})).toThrow("chmod 600");
  });

  it("rejects/a replaced key file", () => {
    const dir = freshDir();
    const { settings } = createKeyStore(dir, {});
    const other = freshDir();
    createKeyStore(other, {});
    writeFileSync(join(dir, MASTER_KEY_FILE), readFileSync(join(other, MASTER_KEY_FILE)), { mode: 0o600 });
    expect(() => openKeyStore(dir, settings as unknown as Record<string, string>, {})).toThrow("wrong passphrase or key file");
  });
});
