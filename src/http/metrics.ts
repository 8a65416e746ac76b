export type Labels = Record<string, string>;

/** One reading of a gauge: a value for one set of labels. */
export interface GaugeReading {
  labels: Labels;
  value: number;
}

function formatLabels(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`)
    .join(",");
}

const series = (name: string, labels: string, value: number) => `${name}${labels ? `{${labels}}` : ""} ${value}`;

interface Histogram {
  /** Upper bounds, ascending; +Inf is implied. */
  bounds: readonly number[];
  /** Per label set: a count per bound (not cumulative), then the sum and count of all observations. */
  series: Map<string, { counts: number[]; sum: number; count: number }>;
}

/** A tiny Prometheus text-format registry: counters, gauges and histograms, with labels. */
export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly gauges = new Map<string, () => number | GaugeReading[]>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly help = new Map<string, string>();

  describe(name: string, help: string): void {
    this.help.set(name, help);
  }

  count(name: string, labels: Labels = {}, by = 1): void {
    const key = formatLabels(labels);
    let values = this.counters.get(name);
    if (!values) {
      values = new Map();
      this.counters.set(name, values);
    }
    values.set(key, (values.get(key) ?? 0) + by);
  }

  /** A gauge read at each scrape: one value, or one per set of labels. */
  gauge(name: string, read: () => number | GaugeReading[]): void {
    this.gauges.set(name, read);
  }

  /** Declares a histogram with these bucket upper bounds (ascending). */
  histogram(name: string, help: string, bounds: readonly number[]): void {
    this.help.set(name, help);
    this.histograms.set(name, { bounds: [...bounds].sort((a, b) => a - b), series: new Map() });
  }

  /** Records one observation in a declared histogram. */
  observe(name: string, labels: Labels, value: number): void {
    const h = this.histograms.get(name);
    if (!h) throw new Error(`histogram ${name} is not declared`);
    const key = formatLabels(labels);
    let s = h.series.get(key);
    if (!s) {
      s = { counts: new Array<number>(h.bounds.length).fill(0), sum: 0, count: 0 };
      h.series.set(key, s);
    }
    const i = h.bounds.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count++;
  }

  render(): string {
    const lines: string[] = [];
    const header = (name: string, type: string) => {
      if (this.help.has(name)) lines.push(`# HELP ${name} ${this.help.get(name)}`);
      lines.push(`# TYPE ${name} ${type}`);
    };
    for (const [name, values] of this.counters) {
      header(name, "counter");
      for (const [labels, value] of values) lines.push(series(name, labels, value));
    }
    for (const [name, read] of this.gauges) {
      header(name, "gauge");
      const reading = read();
      if (typeof reading === "number") lines.push(series(name, "", reading));
      else for (const r of reading) lines.push(series(name, formatLabels(r.labels), r.value));
    }
    for (const [name, h] of this.histograms) {
      header(name, "histogram");
      for (const [labels, s] of h.series) {
        const withLe = (le: string) => (labels ? `${labels},le="${le}"` : `le="${le}"`);
        let cumulative = 0;
        h.bounds.forEach((bound, i) => {
          cumulative += s.counts[i] ?? 0;
          lines.push(series(`${name}_bucket`, withLe(String(bound)), cumulative));
        });
        lines.push(series(`${name}_bucket`, withLe("+Inf"), s.count));
        lines.push(series(`${name}_sum`, labels, s.sum));
        lines.push(series(`${name}_count`, labels, s.count));
      }
    }
    return `${lines.join("\n")}\n`;
  }
}
