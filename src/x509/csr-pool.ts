import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { type ErrorCode, TesseraError } from "../errors.js";
import { packageRoot } from "../package-root.js";
import { parseCsrAsync } from "./csr.js";

/** What issuance needs from a CSR once its proof of possession is checked. */
export interface CheckedCsr {
  spki: Buffer;
  isRsa: boolean;
}

export type CsrChecker = (csr: string) => Promise<CheckedCsr>;

type Reply = { id: number; spki: Uint8Array; isRsa: boolean } | { id: number; code: ErrorCode; message: string };

/** Checks CSRs on the calling thread (the signature on libuv's pool). */
export const checkCsrInline: CsrChecker = async (csr) => {
  const { spki, isRsa } = await parseCsrAsync(csr);
  return { spki, isRsa };
};

/**
 * Parses and verifies CSRs in worker threads. Importing the requester's key
 * into OpenSSL costs as much as verifying the signature (~80 µs each for
 * P-256) and Node has no asynchronous key import, so the whole check moves
 * off the event loop: one server process then uses a second core for it.
 */
export class CsrCheckPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (c: CheckedCsr) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closing = false;
  /** Set when a thread could not even start: checks then run inline. */
  private broken = false;

  constructor(
    threads: number,
    private readonly file = join(packageRoot(), "dist", "src", "x509", "csr-worker.js"),
  ) {
    this.broken = threads < 1;
    for (let i = 0; i < threads; i++) this.spawn(i);
  }

  /**
   * Starts worker `i`; should it die, its unanswered checks fail and a new
   * one takes its place — unless it never got as far as saying it was ready
   * (its module would not load), which would only repeat.
   */
  private spawn(i: number): void {
    const worker = new Worker(this.file);
    let online = false;
    worker.unref();
    worker.on("message", (reply: Reply | "ready") => {
      if (reply === "ready") online = true;
      else this.settle(reply);
    });
    worker.on("error", () => {});
    worker.on("exit", () => {
      if (this.closing) return;
      this.failAll();
      if (online) this.spawn(i);
      else this.broken = true;
    });
    this.workers[i] = worker;
  }

  readonly check: CsrChecker = (csr) =>
    this.broken
      ? checkCsrInline(csr)
      : new Promise((resolve, reject) => {
          const id = this.nextId++;
          this.pending.set(id, { resolve, reject });
          this.workers[id % this.workers.length]?.postMessage({ id, csr });
        });

  private settle(reply: Reply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if ("code" in reply) waiter.reject(new TesseraError(reply.code, reply.message));
    else
      waiter.resolve({ spki: Buffer.from(reply.spki.buffer, reply.spki.byteOffset, reply.spki.byteLength), isRsa: reply.isRsa });
  }

  private failAll(): void {
    for (const waiter of this.pending.values()) waiter.reject(new TesseraError("internal", "the CSR check was interrupted"));
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
