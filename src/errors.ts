/**
 * Every failure Tessera reports to a caller is a TesseraError with a stable
 * snake_case code. The HTTP status for each code is decided here, in one
 * place; routes never pick a status themselves.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_csr: 400,
  invalid_spiffe_id: 400,
  invalid_selector: 400,
  invalid_duration: 400,
  invalid_argument: 400,
  unsupported_key: 400,
  attestation_failed: 401,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  token_used: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  rate_limited: 429,
  wrong_passphrase: 500,
  not_initialized: 500,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class TesseraError extends Error {
  override name = "TesseraError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = ERROR_STATUS[code];
    this.headers = options?.headers ?? {};
  }
  readonly headers: Record<string, string>;
}

export function isTesseraError(e: unknown): e is TesseraError {
  return e instanceof TesseraError;
}

/** The innermost message of an error chain: fetch says "fetch failed" and keeps the real reason (a TLS error, say) as its cause. */
export function innermostMessage(e: unknown): string {
  let cur = e;
  while (cur instanceof Error && cur.cause instanceof Error) cur = cur.cause;
  return cur instanceof Error ? cur.message : String(cur);
}
