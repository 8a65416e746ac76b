import type { RateLimitConfig } from "../config-file.js";

const MAX_CLIENTS = 100_000;

/**
 * A token bucket per client address: `burst` requests at once, refilled at
 * `perSecond`. Idle buckets are dropped so memory stays bounded even when
 * many addresses call. It measures elapsed time with a monotonic timer, not
 * the CA's Clock: a rate is about real seconds passing, whatever time the
 * CA believes it is.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly config: RateLimitConfig,
    private readonly monotonicMs: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `client`; returns 0 if allowed, else seconds until one is available. */
  take(client: string): number {
    const now = this.monotonicMs();
    let bucket = this.buckets.get(client);
    if (!bucket) {
      if (this.buckets.size >= MAX_CLIENTS) this.sweep(now);
      bucket = { tokens: this.config.burst, at: now };
      this.buckets.set(client, bucket);
    }
    bucket.tokens = Math.min(this.config.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.config.perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.config.perSecond));
  }

  /** Drops buckets that have refilled completely (their clients have been idle). */
  sweep(now = this.monotonicMs()): void {
    const full = (this.config.burst / this.config.perSecond) * 1000;
    for (const [client, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(client);
    if (this.buckets.size >= MAX_CLIENTS) this.buckets.clear();
  }
}
