export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles (p99 of 1,000 samples is the 990th smallest). NaN samples are left out. */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  const q = (p: number) => (n ? v[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))] : NaN);
  return { n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: n ? v[n - 1] : NaN, mean: n ? v.reduce((a, b) => a + b, 0) / n : NaN };
}

export const round = (x: number, digits = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : NaN);

/** 12.3 / 1.23 / 1,234 — short numbers for tables; '-' for missing values. */
export function fmt(x: number | null | undefined, digits?: number): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const d = digits ?? (Math.abs(x) < 10 ? 2 : Math.abs(x) < 1000 ? 1 : 0);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** A plain-text table: first column left-aligned, the others right-aligned unless marked in `left`. */
export function table(head: string[], rows: (string | number)[][], left: number[] = [0]): string {
  const cells = rows.map((r) => r.map(String));
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (left.includes(i) ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ').trimEnd();
  return [line(head), line(width.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** HH:mm:ss.SSS in local time. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
