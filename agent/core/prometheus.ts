// PURE: the Prometheus text exposition format 0.0.4, rendered from plain
// values, and the fixed-bucket histogram both metrics listeners count into.
// Hand-written rather than prom-client: the router's hot path needs counters
// it can bump without hashing a label object per request (prom-client does),
// and what is rendered here is small and pinned by unit tests against the
// format's rules (escaping, cumulative buckets, +Inf, _sum/_count).

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface HistogramSample {
  labels: Labels;
  histogram: Histogram;
}

export type MetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: readonly Sample[] }
  | { name: string; help: string; type: 'histogram'; samples: readonly HistogramSample[] };

/**
 * Counts observations into fixed buckets. `counts[i]` holds the observations
 * in bucket i alone (bounds[i-1] < v <= bounds[i]), the last slot those above
 * every bound; rendering makes them cumulative. observe() allocates nothing.
 */
export class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    if (bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number)))) {
      throw new Error('histogram bounds must be finite and strictly increasing (+Inf is implied)');
    }
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i += 1;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values: backslash, double quote and line feed are escaped (the only escapes the format has). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text: backslash and line feed are escaped; a double quote stays as is. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** Go's float spellings for the specials; JavaScript's own for the rest (Prometheus parses both). */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function renderLabels(labels: Labels, extra?: readonly [string, string]): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || name === 'le') throw new Error(`invalid label name ${JSON.stringify(name)}`);
    parts.push(`${name}="${escapeLabelValue(value)}"`);
  }
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** The families in the order given, each with its HELP and TYPE lines; ends with a line feed. */
export function renderFamilies(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`invalid metric name ${JSON.stringify(f.name)}`);
    // A name twice would be two families of one metric, which scrapers reject.
    if (seen.has(f.name)) throw new Error(`metric ${f.name} rendered twice`);
    seen.add(f.name);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type === 'histogram') {
      for (const s of f.samples) renderHistogram(lines, f.name, s);
    } else {
      for (const s of f.samples) lines.push(`${f.name}${renderLabels(s.labels)} ${formatValue(s.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function renderHistogram(lines: string[], name: string, s: HistogramSample): void {
  const h = s.histogram;
  let cumulative = 0;
  h.bounds.forEach((bound, i) => {
    cumulative += h.counts[i] as number;
    lines.push(`${name}_bucket${renderLabels(s.labels, ['le', formatValue(bound)])} ${formatValue(cumulative)}`);
  });
  lines.push(
    `${name}_bucket${renderLabels(s.labels, ['le', '+Inf'])} ${formatValue(h.count)}`,
    `${name}_sum${renderLabels(s.labels)} ${formatValue(h.sum)}`,
    `${name}_count${renderLabels(s.labels)} ${formatValue(h.count)}`,
  );
}
