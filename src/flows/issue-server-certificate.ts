import { generateKeyPairSync } from "node:crypto";
import type { CaManager } from "../ca/manager.js";
import type { Clock } from "../clock.js";
import type { Store } from "../store/store.js";
import { newSerial } from "../x509/certificate.js";
import { pemEncode } from "../x509/pem.js";
import { BACKDATE_MS } from "../x509/profile.js";

export const SERVER_CERT_TTL_MS = 24 * 3_600_000;

export interface ServerCredentials {
  keyPem: string;
  certChainPem: string;
  serial: string;
  notAfter: number;
  /** Half-way through its life: when to replace it. */
  renewAt: number;
}

/**
 * The CA's own TLS identity, spiffe://<td>/tessera/server, with SANs for
 * localhost, 127.0.0.1 and the configured DNS names. Its key lives only in
 * this process's memory; the certificate is recorded like any other.
 */
export async function issueServerCertificate(
  deps: { store: Store; ca: CaManager; clock: Clock; crlBaseUrl: string },
  dnsNames: string[],
): Promise<ServerCredentials> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const issuer = deps.ca.activeIntermediate();
  const now = deps.clock.now().getTime();
  const notBefore = Math.floor((now - BACKDATE_MS) / 1000) * 1000;
  const notAfter = Math.min(Math.floor((now + SERVER_CERT_TTL_MS) / 1000) * 1000, issuer.record.notAfter);
  const serial = newSerial();
  const spiffeId = `spiffe://${deps.ca.trustDomain}/tessera/server`;
  const der = await deps.ca.leafIssuer(issuer.record.id, deps.crlBaseUrl).issue({
    spiffeId,
    dnsNames: [...new Set(["localhost", ...dnsNames])],
    ipAddresses: ["127.0.0.1", "::1"],
    spki: publicKey.export({ type: "spki", format: "der" }),
    isRsa: false,
    serial,
    notBefore,
    notAfter,
  });
  const serialHex = serial.toString("hex");
  await deps.store.recordCertificate(
    {
      serial: serialHex,
      spiffeId,
      issuerId: issuer.record.id,
      notBefore,
      notAfter,
      der,
      attestation: "server",
      issuedAt: now,
      revokedAt: null,
      revocationReason: null,
    },
    { actor: "tessera", action: "svid.x509.issue", subject: spiffeId, details: { serial: serialHex, issuer: issuer.record.id } },
  );
  return {
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    certChainPem: pemEncode(der, "CERTIFICATE") + deps.ca.intermediatePem(issuer.record.id),
    serial: serialHex,
    notAfter,
    renewAt: now + (notAfter - now) / 2,
  };
}
