import { generateKeyPairSync, type KeyObject } from "node:crypto";

/** Key types an operator may choose for the CA and JWT keys. */
export const KEY_TYPES = ["ec-p256", "ec-p384", "ed25519", "rsa-2048", "rsa-3072"] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(type: KeyType): KeyPair {
  switch (type) {
    case "ec-p256":
      return generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    case "ec-p384":
      return generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    case "ed25519":
      return generateKeyPairSync("ed25519");
    case "rsa-2048":
      return generateKeyPairSync("rsa", { modulusLength: 2048 });
    case "rsa-3072":
      return generateKeyPairSync("rsa", { modulusLength: 3072 });
  }
}

/** The Tessera key type of a key, or undefined for keys Tessera does not use for itself. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  // details only of the types that have the ones wanted: Node 20 aborts the process when asked
  // for those of some malformed keys of other types (a DSA key with a negative public value)
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1") return "ec-p256";
      if (curve === "secp384r1") return "ec-p384";
      return undefined;
    }
    case "ed25519":
      return "ed25519";
    case "rsa": {
      const bits = key.asymmetricKeyDetails?.modulusLength;
      if (bits === 2048) return "rsa-2048";
      if (bits === 3072) return "rsa-3072";
      return undefined;
    }
    default:
      return undefined;
  }
}
