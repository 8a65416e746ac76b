/**
 * A worker thread of the CsrCheckPool: parses and verifies CSRs off the
 * event loop. Answers each { id, csr } with { id, spki, isRsa } or
 * { id, code, message }.
 */
import { parentPort } from "node:worker_threads";
import { TesseraError } from "../errors.js";
import { parseCsr } from "./csr.js";

parentPort?.on("message", ({ id, csr }: { id: number; csr: string }) => {
  try {
    const { spki, isRsa } = parseCsr(csr);
    parentPort?.postMessage({ id, spki, isRsa });
  } catch (e) {
    const error =
      e instanceof TesseraError ? { code: e.code, message: e.message } : { code: "invalid_csr", message: "CSR cannot be parsed" };
    parentPort?.postMessage({ id, ...error });
  }
});
parentPort?.postMessage("ready");
