import { verify } from "node:crypto";
import type { Worker } from "node:worker_threads";
import { decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { CryptoThreads } from "../../src/crypto/crypto-threads.js";
import { generateKeyPair, type KeyType } from "../../src/crypto/key-types.js";
import { Signer } from "../../src/crypto/signer.js";
import { JwtSvidMinter, newJti } from "../../src/jwt/mint-jwt-svid.js";
import { distinguishedName } from "../../src/x509/extensions.js";
import { leafTemplate } from "../../src/x509/leaf-certificate.js";
import { opensslCsr } from "../helpers/openssl.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const HASH: Record<KeyType, string | null> = {
  "ec-p256": "sha256",
  "ec-p384": "sha384",
  ed25519: null,
  "rsa-2048": "sha256",
  "rsa-3072": "sha256",
};

describe("CryptoThreads: CA signatures", () => {
  const threads = new CryptoThreads(2, { alwaysSignOnThread: true });
  afterAll(() => threads.close());

  it.each(["ec-p256", "ec-p384", "ed25519", "rsa-2048"] as const)(
    "makes %s X.509 signatures that verify, for many data at once",
    async (type) => {
      const { privateKey, publicKey } = generateKeyPair(type);
      const signer = new Signer(privateKey);
      signer.offloadTo(threads);
      const data = Array.from({ length: 16 }, (_, i) => Buffer.from(`to be signed ${i}`));
      const before = threads.signedOnThread;
      const signatures = await Promise.all(data.map((d) => signer.signX509Async(d)));
      expect(threads.signedOnThread - before).toBe(data.length);
      signatures.forEach((sig, i) => {
        expect(verify(HASH[type], data[i] as Buffer, publicKey, sig)).toBe(true);
        expect(verify(HASH[type], Buffer.from("something else"), publicKey, sig)).toBe(false);
      });
    },
  );

  it("makes JWS signatures (r||s) that jose verifies", async () => {
    const { privateKey, publicKey } = generateKeyPair("ec-p256");
    const signer = new Signer(privateKey);
    signer.offloadTo(threads);
    const now = Math.floor(Date.now() / 1000);
    const token = await new JwtSvidMinter(signer, "kid-1").mint({
      sub: "spiffe://example.org/w",
      aud: ["a"],
      iss: "https://ca.example.org",
      iat: now,
      exp: now + 60,
      jti: newJti(Date.now()),
    });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "ES256", kid: "kid-1" });
    const key = await importSPKI(publicKey.export({ type: "spki", format: "pem" }) as string, "ES256");
    await expect(jwtVerify(token, key, { audience: "a" })).resolves.toMatchObject({ payload: { sub: "spiffe://example.org/w" } });
  });

  it("fails what was in flight when a thread dies, then signs again with a new thread (the key sent anew)", async () => {
    const pool = new CryptoThreads(1, { alwaysSignOnThread: true });
    try {
      const { privateKey, publicKey } = generateKeyPair("ec-p256");
      const signer = new Signer(privateKey);
      signer.offloadTo(pool);
      expect(verify("sha256", Buffer.from("a"), publicKey, await signer.signX509Async(Buffer.from("a")))).toBe(true);
      const [thread] = (pool as unknown as { threads: Array<{ worker: Worker }> }).threads;
      const dying = thread?.worker.terminate();
      const inFlight = signer.signX509Async(Buffer.from("b"));
      await dying;
      await expect(inFlight).rejects.toMatchObject({ code: "internal" });
      expect(verify("sha256", Buffer.from("c"), publicKey, await signer.signX509Async(Buffer.from("c")))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("signs on its thread while leaves are being made there, and on libuv's pool when it is idle", async () => {
    const pool = new CryptoThreads(1);
    try {
      const { privateKey, publicKey } = generateKeyPair("ec-p256");
      const signer = new Signer(privateKey);
      signer.offloadTo(pool);
      const idle = await signer.signX509Async(Buffer.from("idle"));
      expect([pool.signedOnPool, pool.signedOnThread]).toEqual([1, 0]);
      const template = leafTemplate(
        distinguishedName([["CN", "ca"]]),
        signer.algorithmIdentifier,
        signer.keyIdentifier,
        "http://ca/crl",
      );
      const fields = {
        spiffeId: "spiffe://example.org/w",
        dnsNames: [],
        ipAddresses: [],
        serial: Buffer.alloc(16, 1),
        notBefore: 0,
        notAfter: 1e12,
      };
      const leaves = Array.from({ length: 4 }, () => signer.leafForCsr(opensslCsr(tmp.dir).csrPem, template, fields));
      expect([pool.signedOnPool, pool.signedOnThread]).toEqual([1, 4]);
      const busy = await signer.signX509Async(Buffer.from("busy"));
      expect([pool.signedOnPool, pool.signedOnThread]).toEqual([1, 5]);
      await Promise.all(leaves);
      expect(verify("sha256", Buffer.from("idle"), publicKey, idle)).toBe(true);
      expect(verify("sha256", Buffer.from("busy"), publicKey, busy)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("drops a released key from its threads: a request naming it is refused there, and the signer signs on the pool", async () => {
    const pool = new CryptoThreads(1, { alwaysSignOnThread: true });
    type Internals = {
      keyIds: WeakMap<object, number>;
      ask(request: (id: number) => unknown): Promise<{ code?: string; signature?: Uint8Array }>;
    };
    const internals = pool as unknown as Internals;
    try {
      const { privateKey, publicKey } = generateKeyPair("ec-p256");
      const signer = new Signer(privateKey);
      signer.offloadTo(pool);
      await signer.signX509Async(Buffer.from("held"));
      const keyId = internals.keyIds.get(privateKey) as number;
      const signWith = () =>
        internals.ask((id) => ({ id, sign: { hash: "sha256", data: Buffer.from("x"), keyId, p1363: false } }));
      expect((await signWith()).signature).toBeDefined();

      signer.release();
      await expect(signWith()).rejects.toMatchObject({ code: "internal", message: "the crypto thread does not hold that key" });
      const before = pool.signedOnThread;
      const after = await signer.signX509Async(Buffer.from("after"));
      expect(pool.signedOnThread).toBe(before);
      expect(verify("sha256", Buffer.from("after"), publicKey, after)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("signs on the calling thread when its thread cannot start", async () => {
    const pool = new CryptoThreads(1, { file: `${tmp.dir}/no-such-worker.js`, alwaysSignOnThread: true });
    try {
      const { privateKey, publicKey } = generateKeyPair("ed25519");
      const signer = new Signer(privateKey);
      signer.offloadTo(pool);
      await expect(signer.signX509Async(Buffer.from("x"))).rejects.toMatchObject({ code: "internal" });
      expect(verify(null, Buffer.from("y"), publicKey, await signer.signX509Async(Buffer.from("y")))).toBe(true);
      expect([pool.signedOnThread, pool.signedOnPool, pool.signedHere]).toEqual([1, 0, 1]);
    } finally {
      await pool.close();
    }
  });

  it("with no threads asked for, signs on the calling thread: X.509 (DER) and JWS (r||s) signatures that verify", async () => {
    const none = new CryptoThreads(0);
    try {
      const { privateKey, publicKey } = generateKeyPair("ec-p256");
      const signer = new Signer(privateKey);
      signer.offloadTo(none);
      expect(verify("sha256", Buffer.from("x"), publicKey, await signer.signX509Async(Buffer.from("x")))).toBe(true);
      const jws = await signer.signJwsAsync(Buffer.from("y"));
      expect(jws).toHaveLength(64);
      expect(verify("sha256", Buffer.from("y"), { key: publicKey, dsaEncoding: "ieee-p1363" }, jws)).toBe(true);
      expect([none.signedOnThread, none.signedOnPool, none.signedHere]).toEqual([0, 0, 2]);
    } finally {
      await none.close();
    }
  });
});
