/**
 * The alert rules shipped in deploy/prometheus against the code: every metric they watch is one the apps serve, every
 * rule says how bad it is and what to do, and Prometheus's own tool accepts the file and runs its unit tests
 * (alerts.test.yml: each alert fires when it should and not when it should not).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Metrics } from '@linan/platform';
import { REPO } from './deploy/served-routes';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const DIR = join(REPO, 'deploy', 'prometheus');
const rules = (parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** The metric names an expression reads (PromQL functions and keywords are followed by "(" or are not linan_/up). */
function metricsIn(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(linan_[a-z0-9_]+|up)\b(?!\s*\()/g)].map((m) => m[1]))];
}

/** Every series name the apps serve on /metrics: each metric, and a histogram's _bucket, _sum and _count. */
async function servedNames(): Promise<Set<string>> {
  const metrics = await new Metrics().registry.getMetricsAsJSON();
  return new Set(metrics.flatMap((m) => (String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name])));
}

function promtool(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { cwd: DIR, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('promtool is needed for this test: apt-get install -y prometheus (Debian ships promtool with it)'));
        return;
      }
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

describe('Prometheus alert rules (deploy/prometheus/alerts.yml)', () => {
  it('watch only metrics the apps serve (and Prometheus\'s own up)', async () => {
    const served = await servedNames();
    const unknown = rules.flatMap((r) => metricsIn(r.expr).filter((n) => n !== 'up' && !served.has(n)).map((n) => `${r.alert}: ${n}`));
    expect(unknown).toEqual([]);
    // the rules cover the alarm path's failure signals
    const watched = new Set(rules.flatMap((r) => metricsIn(r.expr)));
    for (const name of ['linan_consumer_dead_letters_total', 'linan_consumer_lag_messages', 'linan_dispatches_total', 'linan_outbox_resent_messages_total']) {
      expect(watched).toContain(name);
    }
  });

  it('each has a unique name, a severity, and a summary and description for whoever is on call', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules) {
      expect({ alert: r.alert, severity: r.labels?.severity }).toEqual({ alert: expect.stringMatching(/^Linan[A-Za-z]+$/), severity: expect.stringMatching(/^(critical|warning)$/) });
      expect(r.annotations?.summary?.length).toBeGreaterThan(10);
      expect(r.annotations?.description?.length).toBeGreaterThan(20);
    }
  });

  it('the metric-name check finds a rule that reads a metric nobody serves', async () => {
    const served = await servedNames();
    expect(metricsIn('sum(rate(linan_consumer_dead_letter_total[5m])) > 0').filter((n) => !served.has(n))).toEqual(['linan_consumer_dead_letter_total']);
    expect(metricsIn('histogram_quantile(0.99, sum by (le) (rate(linan_device_to_first_dispatch_seconds_bucket[5m])))').filter((n) => !served.has(n))).toEqual([]);
  });

  it('promtool accepts the rule file and its unit tests pass', async () => {
    const check = await promtool('check', 'rules', 'alerts.yml');
    expect(check).toMatchObject({ code: 0, out: expect.stringContaining(`SUCCESS: ${rules.length} rules found`) });
    const test = await promtool('test', 'rules', 'alerts.test.yml');
    expect(test.out).toContain('SUCCESS');
    expect(test.code).toBe(0);
  }, 90_000);
});
