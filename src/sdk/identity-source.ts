import { createHash, createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { EventEmitter } from "node:events";
import { existsSync, type FSWatcher, readFileSync, watch } from "node:fs";
import { join } from "node:path";
import { AGENT_FILES } from "../agent/agent.js";
import { pemDecodeAll, pemEncode } from "../x509/pem.js";
import { spiffeIdOf } from "./spiffe-id-of.js";

/** A workload's current X.509 identity and the roots it trusts. */
export interface X509Identity {
  spiffeId: string;
  serial: string;
  notAfter: Date;
  keyPem: string;
  /** Leaf first, then intermediates. */
  certChainPem: string;
  bundlePem: string;
}

/** Anything that can say who this workload is now, and tell when that changes. */
export interface IdentitySource extends EventEmitter {
  current(): X509Identity;
  on(event: "update", listener: (identity: X509Identity) => void): this;
  close(): void;
}

/** Parses the agent's identity.pem (key + chain) and bundle; undefined if incomplete or mismatched. */
export function parseIdentity(identityPem: string, bundlePem: string): X509Identity | undefined {
  const blocks = pemDecodeAll(identityPem);
  const key = blocks.find((b) => b.label === "PRIVATE KEY");
  const certs = blocks.filter((b) => b.label === "CERTIFICATE");
  const leafDer = certs[0]?.der;
  if (!key || !leafDer || !bundlePem.includes("BEGIN CERTIFICATE")) return undefined;
  const leaf = new X509Certificate(leafDer);
  const keyPem = pemEncode(key.der, "PRIVATE KEY");
  const publicOfKey = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" });
  if (!publicOfKey.equals(leaf.publicKey.export({ type: "spki", format: "der" }))) return undefined;
  const spiffeId = spiffeIdOf(leaf);
  if (!spiffeId) return undefined;
  return {
    spiffeId,
    serial: leaf.serialNumber.toLowerCase(),
    notAfter: new Date(leaf.validTo),
    keyPem,
    certChainPem: certs.map((c) => pemEncode(c.der, "CERTIFICATE")).join(""),
    bundlePem,
  };
}

/**
 * Watches the directory `tessera agent` writes and emits "update" whenever the
 * identity or bundle changes. It reads identity.pem (key and chain in one
 * file, replaced atomically), so it never sees a key from one certificate
 * with another certificate.
 */
export class FileIdentitySource extends EventEmitter implements IdentitySource {
  private identity: X509Identity | undefined;
  private fingerprint = "";
  private watcher: FSWatcher | undefined;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly dir: string,
    pollMs: number,
  ) {
    super();
    this.reload();
    try {
      this.watcher = watch(dir, () => this.reload());
    } catch {
      this.watcher = undefined;
    }
    // fs.watch can miss events on some filesystems: a slow poll backs it up
    this.timer = setInterval(() => this.reload(), pollMs);
    this.timer.unref();
  }

  /** Opens the directory, waiting up to `waitMs` for the agent's first files. */
  static async open(dir: string, options: { waitMs?: number; pollMs?: number } = {}): Promise<FileIdentitySource> {
    const deadline = Date.now() + (options.waitMs ?? 30_000);
    while (!existsSync(join(dir, AGENT_FILES.identity)) || !existsSync(join(dir, AGENT_FILES.bundle))) {
      if (Date.now() > deadline) throw new Error(`no identity in ${dir} yet (is tessera agent running?)`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const source = new FileIdentitySource(dir, options.pollMs ?? 1000);
    if (!source.identity) {
      source.close();
      throw new Error(`the identity in ${dir} is incomplete or inconsistent`);
    }
    return source;
  }

  private reload(): void {
    let identityPem: string;
    let bundlePem: string;
    try {
      identityPem = readFileSync(join(this.dir, AGENT_FILES.identity), "utf8");
      bundlePem = readFileSync(join(this.dir, AGENT_FILES.bundle), "utf8");
    } catch {
      return;
    }
    const fingerprint = createHash("sha256").update(identityPem).update(bundlePem).digest("hex");
    if (fingerprint === this.fingerprint) return;
    const next = parseIdentity(identityPem, bundlePem);
    if (!next) return;
    this.fingerprint = fingerprint;
    const first = this.identity === undefined;
    this.identity = next;
    if (!first) this.emit("update", next);
  }

  current(): X509Identity {
    return this.identity as X509Identity;
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.timer);
  }
}
