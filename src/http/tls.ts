import type { SecureContextOptions, TlsOptions } from "node:tls";

/** TLS 1.2+ with forward-secret AEAD suites only (TLS 1.3 suites are all strong and left at Node's defaults). */
export const TLS_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

export function secureContextOptions(keyPem: string, certChainPem: string, bundlePem: string): SecureContextOptions {
  return {
    key: keyPem,
    cert: certChainPem,
    ca: bundlePem,
    minVersion: "TLSv1.2",
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  };
}

/**
 * Client certificates are requested but not required: renewal and JWT-SVID
 * requests authenticate with them; Tessera checks them itself (chain,
 * revocation, identity) rather than letting the handshake fail.
 */
export function serverTlsOptions(context: SecureContextOptions): TlsOptions {
  return { ...context, requestCert: true, rejectUnauthorized: false };
}
