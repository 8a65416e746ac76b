import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { type ParsedCrl, parseCrl } from "../crl/parse-crl.js";
import { innermostMessage, TesseraError } from "../errors.js";
import { certificateParts } from "../x509/certificate-info.js";
import { uriConstraintsOf, uriConstraintViolation } from "../x509/name-constraints.js";
import { pemDecodeAll } from "../x509/pem.js";
import { spiffeIdOf } from "./spiffe-id-of.js";

export interface VerifiedX509Svid {
  spiffeId: string;
  serial: string;
  notAfter: Date;
}

export interface X509SvidVerifierOptions {
  /** Trusted roots (PEM). */
  bundlePem: string;
  /** A CRL source: a file (DER, or PEM with one or more CRLs) or an http(s) URL. */
  crl?: string;
  /** fetch used for a CRL URL (default: global fetch). */
  fetch?: (url: string) => Promise<Response>;
  now?: () => Date;
  /**
   * When no cached CRL is from a certificate's issuer (a new issuing CA after
   * a rotation), the source is fetched again, but no more often than this.
   * Default 10 s.
   */
  minRefreshMs?: number;
}

function reject(message: string): TesseraError {
  return new TesseraError("unauthenticated", `certificate rejected: ${message}`);
}

function crlsFrom(bytes: Buffer): ParsedCrl[] {
  const text = bytes.toString("latin1");
  if (text.includes("-----BEGIN"))
    return pemDecodeAll(text)
      .filter((b) => b.label === "X509 CRL")
      .map((b) => parseCrl(b.der));
  return [parseCrl(bytes)];
}

/** A stolen intermediate of one trust domain must not vouch for another: every issuer's URI constraints apply. */
function checkNameConstraints(spiffeId: string, issuers: X509Certificate[]): void {
  for (const issuer of issuers) {
    let constraints: ReturnType<typeof uriConstraintsOf>;
    try {
      constraints = uriConstraintsOf(issuer.raw);
    } catch {
      throw reject("an issuer's name constraints are malformed");
    }
    const violation = constraints && uriConstraintViolation(spiffeId, constraints);
    if (violation) throw reject(violation);
  }
}

/**
 * Checks an X.509-SVID the way a relying service should: a chain to a trusted
 * root (signatures, validity, CA flags), exactly one SPIFFE ID within every
 * issuer's URI name constraints, and — when a
 * CRL source is given — not revoked. CRLs are cached until their nextUpdate.
 * It fails closed: no CRL for the certificate's issuer is a rejection.
 */
export class X509SvidVerifier {
  private readonly roots: X509Certificate[];
  private crlCache: { crls: ParsedCrl[]; until: number; fetchedAt: number } | undefined;

  constructor(private readonly opts: X509SvidVerifierOptions) {
    this.roots = pemDecodeAll(opts.bundlePem)
      .filter((b) => b.label === "CERTIFICATE")
      .map((b) => new X509Certificate(b.der));
    if (this.roots.length === 0) throw new TesseraError("invalid_argument", "the bundle holds no certificate");
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private async loadCrls(refresh = false): Promise<ParsedCrl[]> {
    const source = this.opts.crl as string;
    const now = this.now().getTime();
    if (!refresh && this.crlCache && this.crlCache.until > now) return this.crlCache.crls;
    let bytes: Buffer;
    try {
      bytes = await this.readCrlSource(source);
    } catch (e) {
      // fail closed: no CRL, no verdict
      throw new TesseraError("unavailable", `cannot load the CRL ${source}: ${innermostMessage(e)}`, { cause: e });
    }
    let crls: ParsedCrl[];
    try {
      crls = crlsFrom(bytes);
    } catch (e) {
      throw reject(`CRL ${source} is malformed (${(e as Error).message})`);
    }
    const until = Math.min(...crls.map((c) => c.nextUpdate?.getTime() ?? 0));
    this.crlCache = { crls, until, fetchedAt: now };
    return crls;
  }

  private async readCrlSource(source: string): Promise<Buffer> {
    if (!/^https?:\/\//.test(source)) return readFileSync(source);
    const res = await (this.opts.fetch ?? ((u: string) => fetch(u)))(source);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async verify(chainPem: string): Promise<VerifiedX509Svid> {
    const certs = pemDecodeAll(chainPem)
      .filter((b) => b.label === "CERTIFICATE")
      .map((b) => new X509Certificate(b.der));
    const leaf = certs[0];
    if (!leaf) throw reject("no certificate in input");
    const now = this.now().getTime();
    const spiffeId = spiffeIdOf(leaf);
    if (!spiffeId) throw reject("it does not carry exactly one spiffe:// URI SAN");
    if (leaf.ca) throw reject("it is a CA certificate, not an SVID");

    // path: leaf → intermediates given → a trusted root
    const path: X509Certificate[] = [leaf];
    let current = leaf;
    for (let depth = 0; depth < 8; depth++) {
      const validFrom = Date.parse(current.validFrom);
      const validTo = Date.parse(current.validTo);
      if (now < validFrom) throw reject(`${depth === 0 ? "certificate" : "an issuer"} is not valid yet`);
      if (now >= validTo) throw reject(`${depth === 0 ? "certificate" : "an issuer"} has expired`);
      const root = this.roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
      if (root) {
        if (now >= Date.parse(root.validTo) || now < Date.parse(root.validFrom)) throw reject("the root is not valid now");
        checkNameConstraints(spiffeId, [...path.slice(1), root]);
        return this.checkRevocation(leaf, path, spiffeId);
      }
      const issuer = certs.find((c) => c !== current && c.ca && current.checkIssued(c) && current.verify(c.publicKey));
      if (!issuer) {
        // the usual mistake: a leaf saved alone, without the intermediate that issued it
        const hint =
          certs.length === 1
            ? ` (its issuer "${current.issuer}" is not in the bundle; give the chain, leaf and intermediates, not the leaf alone)`
            : "";
        throw reject(`it does not chain to a trusted root${hint}`);
      }
      path.push(issuer);
      current = issuer;
    }
    throw reject("chain too long");
  }

  private async checkRevocation(leaf: X509Certificate, path: X509Certificate[], spiffeId: string): Promise<VerifiedX509Svid> {
    const serial = leaf.serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
    const result = { spiffeId, serial: serial.length % 2 ? `0${serial}` : serial, notAfter: new Date(leaf.validTo) };
    if (!this.opts.crl) return result;
    const issuer = path[1] ?? this.roots.find((r) => leaf.checkIssued(r));
    const issuerName = certificateParts(leaf.raw).issuerName;
    const fromIssuer = (crls: ParsedCrl[]) =>
      crls.find((c) => c.issuerName.equals(issuerName) && issuer && c.verifySignature(issuer.publicKey));
    let crl = fromIssuer(await this.loadCrls());
    const fetchedAt = this.crlCache?.fetchedAt ?? 0;
    if (!crl && this.now().getTime() - fetchedAt >= (this.opts.minRefreshMs ?? 10_000)) {
      crl = fromIssuer(await this.loadCrls(true));
    }
    if (!crl) throw reject("no valid CRL from the certificate's issuer");
    if (crl.nextUpdate && crl.nextUpdate.getTime() < this.now().getTime()) throw reject("the CRL is out of date");
    if (crl.revoked.has(result.serial)) throw reject("it has been revoked");
    return result;
  }
}
