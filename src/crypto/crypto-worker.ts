/**
 * A thread of CryptoThreads: builds X.509-SVIDs from CSRs and makes CA
 * signatures off the event loop. Answers each { id, leaf } with
 * { id, certificate }, each { id, sign } with { id, signature }, or either
 * with { id, code, message }. { keyId, key } and { templateId, template }
 * hand it what it signs with and builds from, named by number from then on;
 * { forgetKeyId } takes a key back, and with it every template.
 */
import { type KeyObject, sign } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { TesseraError } from "../errors.js";
import { type LeafTemplate, leafForCsr, receivedTemplate } from "../x509/leaf-certificate.js";
import type { CryptoReply, CryptoRequest } from "./crypto-threads.js";

const keys = new Map<number, KeyObject>();
const templates = new Map<number, LeafTemplate>();
const reply = (r: CryptoReply) => parentPort?.postMessage(r);

parentPort?.on("message", async (m: CryptoRequest) => {
  if ("key" in m) {
    keys.set(m.keyId, m.key);
    return;
  }
  if ("template" in m) {
    templates.set(m.templateId, receivedTemplate(m.template));
    return;
  }
  if ("forgetKeyId" in m) {
    keys.delete(m.forgetKeyId);
    templates.clear();
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
  const { csr, templateId, fields, keyId, hash } = m.leaf;
  const key = keys.get(keyId);
  const template = templates.get(templateId);
  if (!key || !template) return reply({ id: m.id, code: "internal", message: "the crypto thread lacks that key or template" });
  try {
    reply({ id: m.id, certificate: await leafForCsr(csr, template, fields, (tbs) => sign(hash, tbs, key)) });
  } catch (e) {
    if (e instanceof TesseraError) reply({ id: m.id, code: e.code, message: e.message });
    else reply({ id: m.id, code: "internal", message: "the certificate could not be made" });
  }
});
parentPort?.postMessage("ready");
