import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runSync } from "./run-sync.js";

export interface OpensslResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the openssl CLI: the independent judge of what Tessera emits. */
export function openssl(args: string[], input?: string | Buffer): OpensslResult {
  const { status, stdout, stderr } = runSync("openssl", args, { input });
  return { status, stdout, stderr };
}

export type CsrKey = "ec-p256" | "ec-p384" | "ed25519" | "rsa-2048" | "rsa-1024" | "ec-p521" | "ec-secp256k1" | "ed448";

const NEWKEY: Record<CsrKey, string[]> = {
  "ec-p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
  "ec-p384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
  ed25519: ["-newkey", "ed25519"],
  "rsa-2048": ["-newkey", "rsa:2048"],
  "rsa-1024": ["-newkey", "rsa:1024"],
  "ec-p521": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"],
  "ec-secp256k1": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"],
  ed448: ["-newkey", "ed448"],
};

/** A key and CSR made by openssl, optionally asking for names the CA must ignore. */
export function opensslCsr(
  dir: string,
  key: CsrKey = "ec-p256",
  opts: { subject?: string; sans?: string } = {},
): { csrPem: string; keyPem: string; keyPath: string } {
  const keyPath = join(dir, `k-${Math.random().toString(36).slice(2)}.pem`);
  const args = ["req", "-new", ...NEWKEY[key], "-nodes", "-keyout", keyPath, "-subj", opts.subject ?? "/CN=workload"];
  if (opts.sans) args.push("-addext", `subjectAltName=${opts.sans}`);
  const r = runSync("openssl", args);
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  const csrPem = r.stdout;
  const keyPem = readFileSync(keyPath, "utf8");
  return { csrPem, keyPem, keyPath };
}

/** Writes `content` to `dir/name` and returns the path. */
export function writeTemp(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
