import "reflect-metadata";
import * as x509 from "@peculiar/x509";

export { x509 };

/** Parses a PEM certificate with @peculiar/x509 (an independent parser). */
export function parseCert(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

/** Splits a PEM chain into its certificates. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}
