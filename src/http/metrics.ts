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

/** A tiny Prometheus text-format registry: counters and gauges with labels. */
export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly gauges = new Map<string, () => number | GaugeReading[]>();
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
    return `${lines.join("\n")}\n`;
  }
}
