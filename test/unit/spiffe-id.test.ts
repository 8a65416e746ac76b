import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/duration.js";
import { parseSelector } from "../../src/identity/selector.js";
import { parseSpiffeId, parseSpiffeIdIn } from "../../src/identity/spiffe-id.js";

describe("SPIFFE IDs", () => {
  it.each(["spiffe://example.org/web", "spiffe://a-b.c_d.example/ns/x/sa/y", "spiffe://example.org/a.b-c_D9"])(
    "accepts %s",
    (id) => {
      expect(parseSpiffeId(id).toString()).toBe(id);
    },
  );

  it.each([
    ["rejects/upper-case trust domain", "spiffe://Example.org/web"],
    ["rejects/port", "spiffe://example.org:443/web"],
    ["rejects/userinfo", "spiffe://user@example.org/web"],
    ["rejects/query", "spiffe://example.org/web?x=1"],
    ["rejects/fragment", "spiffe://example.org/web#x"],
    ["rejects/empty segment", "spiffe://example.org//web"],
    ["rejects/dot segment", "spiffe://example.org/./web"],
    ["rejects/dot-dot segment", "spiffe://example.org/a/../web"],
    ["rejects/trailing slash", "spiffe://example.org/web/"],
    ["rejects/percent-encoding", "spiffe://example.org/w%20eb"],
    ["rejects/other scheme", "https://example.org/web"],
    ["rejects/upper-case scheme", "SPIFFE://example.org/web"],
    ["rejects/no path", "spiffe://example.org"],
    ["rejects/empty trust domain", "spiffe:///web"],
    ["rejects/NUL", "spiffe://example.org/we\u0000b"],
    ["rejects/too long", `spiffe://example.org/${"a".repeat(2100)}`],
  ])("%s", (_name, id) => {
    expect(() => parseSpiffeId(id)).toThrow(expect.objectContaining({ code: "invalid_spiffe_id" }));
  });

  it("rejects/IDs of another trust domain where one is required", () => {
    expect(() => parseSpiffeIdIn("spiffe://other.org/web", "example.org")).toThrow("not in trust domain");
  });
});

describe("durations", () => {
  it.each([
    ["90s", 90_000],
    ["15m", 900_000],
    ["1h", 3_600_000],
    ["7d", 604_800_000],
    ["1h30m", 5_400_000],
  ])("parses %s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "1", "h", "-1h", "1.5h", "1w", "0s", "1 h", "99999999999999999999d"])("rejects/%j", (text) => {
    expect(() => parseDuration(text)).toThrow(expect.objectContaining({ code: "invalid_duration" }));
  });
});

describe("selectors", () => {
  it.each(["k8s:ns:payments", "jwt:sub:repo:acme/app:ref:main", "unix:uid:1000"])("accepts %s", (s) => {
    expect(parseSelector(s)).toBe(s);
  });
  it.each(["", "k8s", ":x", "K8S:ns:x", "k8s:", "k8s:with space", "k8s:\u0000"])("rejects/%j", (s) => {
    expect(() => parseSelector(s)).toThrow(expect.objectContaining({ code: "invalid_selector" }));
  });
});
