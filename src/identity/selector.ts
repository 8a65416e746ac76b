import { TesseraError } from "../errors.js";

const SELECTOR = /^[a-z][a-z0-9_-]{0,31}:[\x21-\x7e]{1,255}$/;

/** Validates a `type:value` selector, e.g. `k8s:ns:payments` or `jwt:sub:repo:acme/app`. */
export function parseSelector(text: string): string {
  if (typeof text !== "string" || !SELECTOR.test(text)) {
    throw new TesseraError(
      "invalid_selector",
      `invalid selector "${String(text).slice(0, 80)}": use type:value (type lower-case, value printable ASCII without spaces)`,
    );
  }
  return text;
}

/** True when every selector an entry requires is among those attested. */
export function selectorsSatisfy(required: readonly string[], attested: readonly string[]): boolean {
  const have = new Set(attested);
  return required.every((s) => have.has(s));
}
