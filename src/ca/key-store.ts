import { createCipheriv, createDecipheriv, createPrivateKey, type KeyObject, randomBytes, scryptSync } from "node:crypto";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TesseraError } from "../errors.js";

/** Environment variable holding the passphrase that protects the CA keys. */
export const PASSPHRASE_ENV = "TESSERA_PASSPHRASE";
export const MASTER_KEY_FILE = "master.key";

const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const CHECK_PLAINTEXT = Buffer.from("tessera key check v1");

/**
 * Seals CA private keys with AES-256-GCM under one 256-bit master key. Each
 * blob is `iv(12) | tag(16) | ciphertext`, bound to its key id as associated
 * data, so a blob cannot be swapped onto another key's row. This class is the
 * seam where a KMS or PKCS#11 module would go.
 */
export class KeyStore {
  constructor(private readonly masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error("master key must be 32 bytes");
  }

  seal(privateKey: KeyObject, keyId: string): Buffer {
    const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
    return this.sealBytes(pkcs8, keyId);
  }

  open(blob: Buffer, keyId: string): KeyObject {
    return createPrivateKey({ key: this.openBytes(blob, keyId), format: "der", type: "pkcs8" });
  }

  private sealBytes(plain: Buffer, aad: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.masterKey, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  private openBytes(blob: Buffer, aad: string): Buffer {
    if (blob.length < 28) throw new TesseraError("wrong_passphrase", "encrypted key is truncated");
    const decipher = createDecipheriv("aes-256-gcm", this.masterKey, blob.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(blob.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]);
    } catch {
      throw new TesseraError("wrong_passphrase", "cannot decrypt the CA keys: wrong passphrase or key file");
    }
  }

  /** A sealed known value stored at init, so a wrong passphrase is reported as such. */
  makeCheck(): string {
    return this.sealBytes(CHECK_PLAINTEXT, "key-check").toString("base64");
  }

  verifyCheck(check: string): void {
    const plain = this.openBytes(Buffer.from(check, "base64"), "key-check");
    if (!plain.equals(CHECK_PLAINTEXT)) throw new TesseraError("wrong_passphrase", "key check mismatch");
  }
}

/** Settings that record how the master key is obtained (never the key itself). */
export interface KeyProtectionSettings {
  key_protection: "passphrase" | "key_file";
  kdf_salt?: string;
  key_check: string;
}

/** Creates the master key at init: from the passphrase if one is set, else a new 0600 key file. */
export function createKeyStore(dataDir: string, env: NodeJS.ProcessEnv): { store: KeyStore; settings: KeyProtectionSettings } {
  const passphrase = env[PASSPHRASE_ENV];
  if (passphrase !== undefined && passphrase !== "") {
    if (passphrase.length < 8) {
      throw new TesseraError("invalid_argument", `${PASSPHRASE_ENV} must be at least 8 characters`);
    }
    const salt = randomBytes(16);
    const store = new KeyStore(scryptSync(passphrase, salt, 32, SCRYPT));
    return { store, settings: { key_protection: "passphrase", kdf_salt: salt.toString("hex"), key_check: store.makeCheck() } };
  }
  const file = join(dataDir, MASTER_KEY_FILE);
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
  const store = new KeyStore(key);
  return { store, settings: { key_protection: "key_file", key_check: store.makeCheck() } };
}

/** Re-derives the master key on start and proves it is the right one. */
export function openKeyStore(dataDir: string, settings: Record<string, string>, env: NodeJS.ProcessEnv): KeyStore {
  let store: KeyStore;
  if (settings.key_protection === "passphrase") {
    const passphrase = env[PASSPHRASE_ENV];
    if (!passphrase) {
      throw new TesseraError("wrong_passphrase", `the CA keys are protected by a passphrase: set ${PASSPHRASE_ENV}`);
    }
    store = new KeyStore(scryptSync(passphrase, Buffer.from(settings.kdf_salt ?? "", "hex"), 32, SCRYPT));
  } else {
    const file = join(dataDir, MASTER_KEY_FILE);
    if (!existsSync(file)) throw new TesseraError("wrong_passphrase", `key file ${file} is missing`);
    if ((statSync(file).mode & 0o077) !== 0) {
      throw new TesseraError("wrong_passphrase", `key file ${file} must not be readable by group or others (chmod 600)`);
    }
    const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
    if (key.length !== 32) throw new TesseraError("wrong_passphrase", `key file ${file} is corrupt`);
    store = new KeyStore(key);
  }
  store.verifyCheck(settings.key_check ?? "");
  return store;
}
