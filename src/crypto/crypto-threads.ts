import { type KeyObject, sign as signHere } from "node:crypto";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { type ErrorCode, TesseraError } from "../errors.js";
import { packageRoot } from "../package-root.js";
import { type LeafFields, type LeafTemplate, leafForCsr } from "../x509/leaf-certificate.js";
import { type CryptoOffload, type LeafOffload, libuvPoolSign, type SignatureOffload } from "./signer.js";

/** What a crypto thread is asked (see crypto-worker.ts). */
export type CryptoRequest =
  | { id: number; leaf: { csr: string; templateId: number; fields: LeafFields; keyId: number; hash: string | null } }
  | { id: number; sign: { hash: string | null; data: Uint8Array; keyId: number; p1363: boolean } }
  | { keyId: number; key: KeyObject }
  | { templateId: number; template: LeafTemplate }
  | { forgetKeyId: number };

export type CryptoReply =
  | { id: number; certificate: Uint8Array }
  | { id: number; signature: Uint8Array }
  | { id: number; code: ErrorCode; message: string };

/**
 * The young generation of a crypto thread's heap (semi-spaces of 1 MiB).
 * Keys imported through WebCrypto (see publicKeyFromSpkiToVerify) survive
 * their first scavenge often enough that V8 grew it to its largest, +25–40
 * MiB of RSS per thread; capped, leaves are made as fast.
 */
const YOUNG_GENERATION_MB = 3;

const bytes = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

interface Thread {
  worker: Worker;
  /** Keys and leaf templates this thread holds (sent once, then named by number). */
  keys: WeakSet<KeyObject>;
  templates: WeakSet<LeafTemplate>;
}

/**
 * Worker threads for the issuance crypto that would otherwise hold up the
 * event loop or wake libuv's pool:
 *
 * - X.509-SVIDs: the CSR check, the leaf's encoding and its signature, in
 *   one message each way. Importing the requester's key into OpenSSL costs
 *   as much as verifying the signature (~50 µs each for P-256) and Node has
 *   no asynchronous key import, so the whole check moves off the event loop:
 *   one server process then uses a second core for it. Checking the CSR
 *   here and then signing took two trips, waiting for the thread twice
 *   (one trip: c=1 +4–10%, c=16 +8–15% in alternating runs).
 * - Other CA signatures (JWT-SVIDs), while the threads have work queued. On
 *   libuv's pool each signature woke a sleeping pool thread, which then
 *   preempted the event loop: about one involuntary context switch of the
 *   event loop per request. Queued behind other work, a signature wakes
 *   nobody (measured when X.509 signatures went this way: c=64 +8% with
 *   one server process, +10–19% with two). With nothing queued the thread
 *   would have to be woken as well, and a message round trip costs more
 *   latency than the pool (c=1: −7 to −19%), so then the pool signs.
 *
 * Each CA key is sent to a thread once (a KeyObject can cross threads) and
 * then named by number, until `forget` takes it back; so is each leaf
 * template, until a key is forgotten (rare: the thread drops them all then).
 */
export class CryptoThreads implements CryptoOffload {
  private readonly threads: Thread[] = [];
  private readonly pending = new Map<number, { resolve: (v: CryptoReply) => void; reject: (e: Error) => void }>();
  private readonly keyIds = new WeakMap<KeyObject, number>();
  private readonly templateIds = new WeakMap<LeafTemplate, number>();
  private nextId = 0;
  /** Numbers naming keys and templates to the threads. */
  private nextNumber = 0;
  private closing = false;
  /**
   * No threads (asked for none, or one could not even start): leaves and
   * signatures are then made on the event loop, synchronously. A process
   * without a thread has no core to spare, and waking a pool thread for a
   * signature preempted the event loop: JWT-SVIDs from two workers on two
   * vCPUs +9–17% in three alternating runs against signing on the pool.
   */
  private noThreads = false;

  /** Signatures made on these threads, on libuv's pool and on the calling thread, in all. */
  signedOnThread = 0;
  signedOnPool = 0;
  signedHere = 0;

  constructor(
    threads: number,
    private readonly options: { file?: string; alwaysSignOnThread?: boolean } = {},
  ) {
    this.noThreads = threads < 1;
    for (let i = 0; i < threads; i++) this.spawn(i);
  }

  /**
   * Starts thread `i`; should it die, its unanswered requests fail and a new
   * one takes its place — unless it never got as far as saying it was ready
   * (its module would not load), which would only repeat.
   */
  private spawn(i: number): void {
    const worker = new Worker(this.options.file ?? join(packageRoot(), "dist", "src", "crypto", "crypto-worker.js"), {
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    let online = false;
    worker.unref();
    worker.on("message", (reply: CryptoReply | "ready") => {
      if (reply === "ready") online = true;
      else this.settle(reply);
    });
    worker.on("error", () => {});
    worker.on("exit", () => {
      if (this.closing) return;
      this.failAll();
      if (online) this.spawn(i);
      else this.noThreads = true;
    });
    this.threads[i] = { worker, keys: new WeakSet(), templates: new WeakSet() };
  }

  /**
   * The number naming `item` on every thread (assigned at first use), sent
   * to `thread` with the item itself unless it already holds it.
   */
  private named<T extends object>(
    thread: Thread,
    held: WeakSet<T>,
    numbers: WeakMap<T, number>,
    item: T,
    handOver: (n: number) => CryptoRequest,
  ): number {
    let n = numbers.get(item);
    if (n === undefined) {
      n = this.nextNumber++;
      numbers.set(item, n);
    }
    if (!held.has(item)) {
      thread.worker.postMessage(handOver(n));
      held.add(item);
    }
    return n;
  }

  /** Sends request(id, keyId, templateId), and before it the key and template if the thread lacks them. */
  private ask(
    request: (id: number, keyId: number, templateId: number) => CryptoRequest,
    key?: KeyObject,
    template?: LeafTemplate,
  ): Promise<CryptoReply> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const thread = this.threads[id % this.threads.length] as Thread;
      const keyId = key ? this.named(thread, thread.keys, this.keyIds, key, (keyId) => ({ keyId, key })) : -1;
      const templateId = template
        ? this.named(thread, thread.templates, this.templateIds, template, (templateId) => ({ templateId, template }))
        : -1;
      this.pending.set(id, { resolve, reject });
      thread.worker.postMessage(request(id, keyId, templateId));
    });
  }

  readonly leaf: LeafOffload = async (csr, template, fields, key, hash) => {
    if (this.noThreads) return leafForCsr(csr, template, fields, (tbs) => signHere(hash, tbs, key));
    this.signedOnThread++;
    const reply = await this.ask(
      (id, keyId, templateId) => ({ id, leaf: { csr, templateId, fields, keyId, hash } }),
      key,
      template,
    );
    if (!("certificate" in reply)) throw new TesseraError("internal", "unexpected reply from a crypto thread");
    return bytes(reply.certificate);
  };

  readonly sign: SignatureOffload = async (hash, data, key, p1363) => {
    if (this.noThreads) {
      this.signedHere++;
      return signHere(hash, data, p1363 ? { key, dsaEncoding: "ieee-p1363" } : key);
    }
    // an idle thread would have to be woken like a pool thread, and a message costs more latency
    if (this.pending.size === 0 && !this.options.alwaysSignOnThread) {
      this.signedOnPool++;
      return libuvPoolSign(hash, data, key, p1363);
    }
    this.signedOnThread++;
    const reply = await this.ask((id, keyId) => ({ id, sign: { hash, data, keyId, p1363 } }), key);
    if (!("signature" in reply)) throw new TesseraError("internal", "unexpected reply from a crypto thread");
    return bytes(reply.signature);
  };

  /** Makes every thread drop its copy of a CA key that will not sign again, and the leaf templates of that key. */
  readonly forget = (key: KeyObject): void => {
    const keyId = this.keyIds.get(key);
    if (keyId === undefined) return;
    this.keyIds.delete(key);
    for (const thread of this.threads) {
      if (!thread.keys.delete(key)) continue;
      // the thread drops every template with it; those still in use are sent again
      thread.templates = new WeakSet();
      thread.worker.postMessage({ forgetKeyId: keyId } satisfies CryptoRequest);
    }
  };

  private settle(reply: CryptoReply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if ("code" in reply) waiter.reject(new TesseraError(reply.code, reply.message));
    else waiter.resolve(reply);
  }

  private failAll(): void {
    for (const waiter of this.pending.values()) waiter.reject(new TesseraError("internal", "a crypto thread stopped"));
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
