import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, type KeyType } from "../crypto/key-types.js";
import { Signer } from "../crypto/signer.js";
import { pinnedFetch } from "../sdk/pinned-fetch.js";
import { buildCsr } from "../x509/build-csr.js";
import { pemEncode } from "../x509/pem.js";
import { writeFileAtomic } from "./atomic-write.js";

/** File names the agent writes in its output directory. */
export const AGENT_FILES = {
  /** Leaf certificate followed by the intermediates. */
  certificate: "svid.pem",
  /** The workload's private key (mode 0600). */
  key: "svid.key",
  /** Trust bundle (PEM roots). */
  bundle: "bundle.pem",
  /** Key and chain in one file (mode 0600): a reader can never see a mismatched pair. */
  identity: "identity.pem",
} as const;

export interface AgentOptions {
  serverUrl: string;
  joinToken?: string;
  /** A file holding a JWT from a trusted issuer; re-read at every attestation (platforms rotate it). */
  jwtFile?: string;
  outDir: string;
  /** The bootstrapped trust bundle. */
  bundlePem: string;
  keyType?: KeyType;
  /** Shell command run after every change of the files. */
  exec?: string;
  /** How often to refresh the bundle between renewals. */
  bundleRefreshMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  log?: (line: string) => void;
}

interface Current {
  spiffeId: string;
  serial: string;
  chainPem: string;
  keyPem: string;
  notBefore: number;
  notAfter: number;
  /** When we received it: renewal is at half the life that was left then (notBefore is back-dated for skew). */
  obtainedAt: number;
}

/** Nothing more the agent can do on its own (e.g. its join token is spent and its SVID expired). */
export class AgentFatalError extends Error {}

/** OpenSSL's verdicts on a server certificate that does not chain to the trusted roots (or names another host). */
const TLS_TRUST_FAILURES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Waits `ms`, or less if `signal` aborts; leaves no listener behind (the agent sleeps for weeks). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", wake);
      resolve();
    };
    const t = setTimeout(wake, ms);
    signal.addEventListener("abort", wake, { once: true });
  });
}

/**
 * The workload side: obtains an X.509-SVID at boot (join token or platform
 * JWT), writes it atomically, renews it over mutual TLS at half its life,
 * keeps the bundle fresh, and rides out CA outages with jittered exponential
 * backoff.
 */
export class Agent {
  private current: Current | undefined;
  private bundlePem: string;
  private readonly abort = new AbortController();
  private readonly log: (line: string) => void;
  private joinTokenUsed = false;

  constructor(private readonly opts: AgentOptions) {
    this.bundlePem = opts.bundlePem;
    this.log = opts.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} tessera-agent: ${line}\n`));
    mkdirSync(opts.outDir, { recursive: true, mode: 0o755 });
  }

  get identity(): Readonly<Current> | undefined {
    return this.current;
  }

  stop(): void {
    this.abort.abort();
  }

  private async post(path: string, body: unknown, clientCert?: Current): Promise<Record<string, string>> {
    const fetch = pinnedFetch(this.bundlePem, clientCert ? { cert: clientCert.chainPem, key: clientCert.keyPem } : {});
    const res = await fetch(new URL(path, this.opts.serverUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 201) {
      const err = (json.error ?? {}) as { code?: string; message?: string };
      throw new HttpError(res.status, err.code ?? "error", err.message ?? `HTTP ${res.status}`);
    }
    return json as Record<string, string>;
  }

  private evidence(): Record<string, string> {
    if (this.opts.jwtFile) return { type: "jwt", token: readFileSync(this.opts.jwtFile, "utf8").trim() };
    if (this.opts.joinToken && !this.joinTokenUsed) return { type: "join_token", token: this.opts.joinToken };
    throw new AgentFatalError(
      "cannot attest again: the join token is spent and there is no --jwt-file; restart the agent with a new token",
    );
  }

  /** Attests (first time, or when renewal is impossible) or renews, then writes the files. */
  async refresh(): Promise<void> {
    const { privateKey } = generateKeyPair(this.opts.keyType ?? "ec-p256");
    const signer = new Signer(privateKey);
    const csr = pemEncode(buildCsr(signer), "CERTIFICATE REQUEST");
    let renewing = this.current !== undefined && this.current.notAfter > Date.now();
    let reply: Record<string, string>;
    try {
      reply = renewing
        ? await this.post("/v1/svid/x509", { csr }, this.current)
        : await this.post("/v1/svid/x509", { csr, attestation: this.evidence() });
    } catch (e) {
      // a refused renewal (revoked, entry deleted) falls back to attesting afresh where possible
      if (!(renewing && e instanceof HttpError && (e.status === 401 || e.status === 403) && this.opts.jwtFile)) throw e;
      this.log(`renewal refused (${e.message}); attesting again`);
      renewing = false;
      reply = await this.post("/v1/svid/x509", { csr, attestation: this.evidence() });
    }
    if (!renewing && !this.opts.jwtFile) this.joinTokenUsed = true;
    const chainPem = reply.chain as string;
    const leaf = new X509Certificate(reply.certificate as string);
    const next: Current = {
      spiffeId: reply.spiffe_id as string,
      serial: reply.serial as string,
      chainPem,
      keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      notBefore: Date.parse(leaf.validFrom),
      notAfter: Date.parse(leaf.validTo),
      obtainedAt: Date.now(),
    };
    this.write(next, reply.bundle as string);
    this.current = next;
    this.log(
      `${renewing ? "renewed" : "obtained"} ${next.spiffeId} serial ${next.serial}, expires ${new Date(next.notAfter).toISOString()}`,
    );
  }

  private write(next: Current, bundlePem: string): void {
    const dir = this.opts.outDir;
    writeFileAtomic(join(dir, AGENT_FILES.identity), next.keyPem + next.chainPem, 0o600);
    writeFileAtomic(join(dir, AGENT_FILES.key), next.keyPem, 0o600);
    writeFileAtomic(join(dir, AGENT_FILES.certificate), next.chainPem, 0o644);
    if (bundlePem !== this.bundlePem || !this.current) writeFileAtomic(join(dir, AGENT_FILES.bundle), bundlePem, 0o644);
    this.bundlePem = bundlePem;
    this.runExec();
  }

  /** Picks up a rotated bundle between renewals. */
  async refreshBundle(): Promise<void> {
    const res = await pinnedFetch(this.bundlePem)(new URL("/v1/bundle", this.opts.serverUrl));
    if (res.status !== 200) throw new HttpError(res.status, "bundle", `bundle fetch: HTTP ${res.status}`);
    const pem = await res.text();
    if (pem !== this.bundlePem && pem.includes("BEGIN CERTIFICATE")) {
      writeFileAtomic(join(this.opts.outDir, AGENT_FILES.bundle), pem, 0o644);
      this.bundlePem = pem;
      this.log("trust bundle changed; wrote the new bundle");
      this.runExec();
    }
  }

  private runExec(): void {
    if (!this.opts.exec) return;
    const child = spawn("/bin/sh", ["-c", this.opts.exec], { stdio: "inherit" });
    child.on("exit", (code) => this.log(`--exec finished with status ${code}`));
    child.on("error", (e) => this.log(`--exec failed: ${e.message}`));
  }

  /** Retries `fn` with jittered exponential backoff until it succeeds or the agent stops. */
  private async withRetry(what: string, fn: () => Promise<void>): Promise<boolean> {
    const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      try {
        await fn();
        return true;
      } catch (e) {
        if (e instanceof AgentFatalError) throw e;
        // a server that does not chain to the roots the agent trusts is a misconfiguration, not an outage
        if (!this.current && TLS_TRUST_FAILURES.has((e as { code?: string }).code ?? "")) {
          throw new AgentFatalError(
            `${what} refused: the server's certificate does not chain to the trusted roots (${(e as Error).message}); check the bundle or fingerprint the agent was given`,
          );
        }
        const base = Math.min(maxMs, initialMs * 2 ** attempt);
        let delay = Math.round(base / 2 + Math.random() * (base / 2));
        // while the SVID is still valid, retry often enough to renew before it expires
        if (this.current && this.current.notAfter > Date.now())
          delay = Math.min(delay, Math.max(initialMs, (this.current.notAfter - Date.now()) / 3));
        const reason = e instanceof HttpError ? `${e.status} ${e.code}: ${e.message}` : (e as Error).message;
        this.log(`${what} failed (${reason}); retrying in ${(delay / 1000).toFixed(1)}s`);
        if (e instanceof HttpError && e.status >= 400 && e.status < 500 && e.status !== 429 && !this.canReattest()) {
          throw new AgentFatalError(`${what} refused: ${reason}`);
        }
        await sleep(delay, this.abort.signal);
      }
    }
    return false;
  }

  private canReattest(): boolean {
    return this.opts.jwtFile !== undefined || (this.current !== undefined && this.current.notAfter > Date.now());
  }

  /** Obtains an identity, then keeps it fresh until stopped. */
  async run(options: { once?: boolean } = {}): Promise<void> {
    if (!(await this.withRetry("attestation", () => this.refresh()))) return;
    if (options.once) return;
    let nextBundleCheck = Date.now() + (this.opts.bundleRefreshMs ?? 60_000);
    while (!this.abort.signal.aborted) {
      const cur = this.current as Current;
      const renewAt = cur.obtainedAt + (cur.notAfter - cur.obtainedAt) / 2;
      const wakeAt = Math.min(renewAt, nextBundleCheck);
      await sleep(Math.max(0, wakeAt - Date.now()), this.abort.signal);
      if (this.abort.signal.aborted) return;
      if (Date.now() >= nextBundleCheck) {
        await this.refreshBundle().catch((e: Error) => this.log(`bundle refresh failed (${e.message}); will retry`));
        nextBundleCheck = Date.now() + (this.opts.bundleRefreshMs ?? 60_000);
      }
      if (Date.now() >= renewAt) await this.withRetry("renewal", () => this.refresh());
    }
  }
}
