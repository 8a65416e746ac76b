/**
 * A thread of CryptoThreads: checks CSRs and makes CA signatures off the
 * event loop. Answers each { id, csr } with { id, spki, isRsa }, each
 * { id, sign } with { id, signature }, or either with { id, code, message };
 * { keyId, key } hands it a CA key to sign with later, { forgetKeyId } takes
 * it back.
 */
import { type KeyObject, sign } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { TesseraError } from "../errors.js";
import { parseCsr } from "../x509/csr.js";
import type { CryptoReply, CryptoRequest } from "./crypto-threads.js";

const keys = new Map<number, KeyObject>();
const reply = (r: CryptoReply) => parentPort?.postMessage(r);

parentPort?.on("message", (m: CryptoRequest) => {
  if ("key" in m) {
    keys.set(m.keyId, m.key);
    return;
  }
  if ("forgetKeyId" in m) {
    keys.delete(m.forgetKeyId);
    return;
  }
  if ("sign" in m) {
    const key = keys.get(m.sign.keyId);
    if (!key) return reply({ id: m.id, code: "internal", message: "the crypto thread does not hold that key" });
    try {
      const signature = sign(m.sign.hash, m.sign.data, m.sign.p1363 ? { key, dsaEncoding: "ieee-p1363" } : key);
      return reply({ id: m.id, signature });
    } catch {
      return reply({ id: m.id, code: "internal", message: "the signature could not be made" });
    }
  }
  try {
    const { spki, isRsa } = parseCsr(m.csr);
    reply({ id: m.id, spki, isRsa });
  } catch (e) {
    const error =
      e instanceof TesseraError
        ? { code: e.code, message: e.message }
        : { code: "invalid_csr" as const, message: "CSR cannot be parsed" };
    reply({ id: m.id, ...error });
  }
});
parentPort?.postMessage("ready");
