import { describe, expect, it } from "vitest";
import { Metrics } from "../../src/http/metrics.js";

describe("Prometheus metrics", () => {
  it("renders counters and gauges, one series per label set, with label values that cannot break the format", () => {
    const m = new Metrics();
    m.describe("t_issued_total", "issued");
    m.count("t_issued_total", { kind: "x509" });
    m.count("t_issued_total", { kind: "x509" }, 2);
    m.count("t_issued_total", { kind: 'jwt"\n{evil}' });
    m.gauge("t_up", () => 1);
    m.describe("t_next", "next update");
    m.gauge("t_next", () => [
      { labels: { issuer: "ca-1" }, value: 1_800_000_000 },
      { labels: { issuer: "ca-2" }, value: 1_800_000_060.5 },
    ]);
    expect(m.render()).toBe(
      [
        "# HELP t_issued_total issued",
        "# TYPE t_issued_total counter",
        't_issued_total{kind="x509"} 3',
        't_issued_total{kind="jwt__{evil}"} 1',
        "# TYPE t_up gauge",
        "t_up 1",
        "# HELP t_next next update",
        "# TYPE t_next gauge",
        't_next{issuer="ca-1"} 1800000000',
        't_next{issuer="ca-2"} 1800000060.5',
        "",
      ].join("\n"),
    );
  });

  it("renders histograms as cumulative buckets with +Inf, sum and count per label set, and refuses an undeclared one", () => {
    const m = new Metrics();
    m.histogram("t_seconds", "latency", [0.01, 0.001, 0.1]);
    for (const v of [0.0005, 0.001, 0.02, 5]) m.observe("t_seconds", { type: "a" }, v);
    m.observe("t_seconds", { type: "b" }, 0.05);
    expect(m.render()).toBe(
      [
        "# HELP t_seconds latency",
        "# TYPE t_seconds histogram",
        't_seconds_bucket{type="a",le="0.001"} 2',
        't_seconds_bucket{type="a",le="0.01"} 2',
        't_seconds_bucket{type="a",le="0.1"} 3',
        't_seconds_bucket{type="a",le="+Inf"} 4',
        't_seconds_sum{type="a"} 5.0215',
        't_seconds_count{type="a"} 4',
        't_seconds_bucket{type="b",le="0.001"} 0',
        't_seconds_bucket{type="b",le="0.01"} 0',
        't_seconds_bucket{type="b",le="0.1"} 1',
        't_seconds_bucket{type="b",le="+Inf"} 1',
        't_seconds_sum{type="b"} 0.05',
        't_seconds_count{type="b"} 1',
        "",
      ].join("\n"),
    );
    expect(() => m.observe("t_other", {}, 1)).toThrow(/not declared/);
  });
});
