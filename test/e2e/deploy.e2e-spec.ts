import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

// deploy/: the Prometheus config and alerts (checked and unit-tested with promtool), the Grafana
// dashboard (its queries valid PromQL over series a live demo exports) and the compose profile
// that starts both. Docker is not needed: the files are parsed and cross-checked.

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const file = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const yamlFile = (path: string) => parse(file(path), { merge: true });

/** Runs promtool, whatever its exit code. */
async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: ROOT });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, output: stdout + stderr };
  }
}

/** PromQL's functions, aggregations and keywords used by the queries: every other word must be a metric. */
const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'increase',
  'histogram_quantile',
  'round',
  'by',
  'without',
  'on',
  'ignoring',
  'and',
  'or',
  'unless',
  'bool',
]);

/** The metric names a PromQL expression reads. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map(([word]) => word)
    .filter((w) => !PROMQL_WORDS.has(w));
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string; refId: string }[];
}

interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

interface AlertRule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
}

const dashboard = () => JSON.parse(file('deploy/grafana/dashboards/rate-limit.json')) as Dashboard;
const dashboardQueries = () =>
  dashboard().panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ panel: panel.title, expr: t.expr })),
  );
const alertRules = () =>
  (yamlFile('deploy/prometheus/alerts.yml') as { groups: { rules: AlertRule[] }[] }).groups.flatMap(
    (g) => g.rules,
  );

describe('deploy/: Prometheus, alerts, Grafana', () => {
  beforeAll(() => {
    const probe = spawnSync('promtool', ['--version']);
    if (probe.error || probe.status !== 0) {
      throw new Error(
        'promtool is not on PATH; it checks the Prometheus config and alert rules in deploy/prometheus.\n' +
          'Install it: `sudo apt-get update && sudo apt-get install -y prometheus` (Debian/Ubuntu) or `brew install prometheus` (macOS).',
      );
    }
  });

  describe('Prometheus', () => {
    it('promtool check config: the config is valid and its alert rules load', async () => {
      const { code, output } = await promtool(
        'check',
        'config',
        'deploy/prometheus/prometheus.yml',
      );
      expect({ code, output }).toEqual({
        code: 0,
        output: expect.stringContaining('SUCCESS: 4 rules found'),
      });
    });

    it('promtool check rules: the alert rules are valid', async () => {
      const { code, output } = await promtool('check', 'rules', 'deploy/prometheus/alerts.yml');
      expect({ code, output }).toEqual({
        code: 0,
        output: expect.stringContaining('SUCCESS: 4 rules found'),
      });
    });

    it('promtool test rules: latency fires at a 6 ms p95 and not at 4 ms, deny rate at 25% and not at 15%, Redis errors and an open breaker fire', async () => {
      const { code, output } = await promtool('test', 'rules', 'deploy/prometheus/alerts.test.yml');
      expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
    });

    it('every alert has a summary and a description', () => {
      const rules = alertRules();
      expect(rules.map((r) => r.alert).sort()).toEqual([
        'RateLimitBreakerOpen',
        'RateLimitDecisionLatencyHigh',
        'RateLimitHighDenyRate',
        'RateLimitStoreErrors',
      ]);
      for (const { alert, annotations } of rules) {
        expect({
          alert,
          summary: annotations?.summary,
          description: annotations?.description,
        }).toEqual({
          alert,
          summary: expect.stringMatching(/\S/),
          description: expect.stringMatching(/^.{40,}$/s),
        });
      }
    });

    it('scrapes the three demo instances of docker-compose.yml on their port', () => {
      const config = yamlFile('deploy/prometheus/prometheus.yml');
      const compose = yamlFile('docker-compose.yml');
      const targets = config.scrape_configs.flatMap(
        (s: { static_configs: { targets: string[] }[] }) =>
          s.static_configs.flatMap((c) => c.targets),
      );
      const demos = Object.keys(compose.services).filter(
        (name) => compose.services[name].build === '.',
      );
      expect(demos).toEqual(['demo-1', 'demo-2', 'demo-3']);
      // The demo listens on PORT, 3000 unless set, and compose does not set it.
      for (const demo of demos) expect(compose.services[demo].environment.PORT).toBeUndefined();
      expect(targets).toEqual(demos.map((d) => `${d}:3000`));
      expect(config.rule_files).toEqual(['alerts.yml']);
    });
  });

  describe('Grafana', () => {
    it('provisions the Prometheus of compose as data source and the dashboards folder it mounts', () => {
      const compose = yamlFile('docker-compose.yml');
      const { datasources } = yamlFile('deploy/grafana/provisioning/datasources/prometheus.yml');
      expect(datasources).toEqual([
        expect.objectContaining({
          type: 'prometheus',
          uid: 'prometheus',
          url: 'http://prometheus:9090',
          isDefault: true,
        }),
      ]);
      expect(compose.services.prometheus.ports).toEqual(['9090:9090']);
      const { providers } = yamlFile('deploy/grafana/provisioning/dashboards/rate-limit.yml');
      expect(providers).toHaveLength(1);
      expect(compose.services.grafana.volumes).toContain(
        `./deploy/grafana/dashboards:${providers[0].options.path}:ro`,
      );
      expect(compose.services.grafana.volumes).toContain(
        './deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
      );
    });

    it('the dashboard charts decisions, latency percentiles, store errors, the breaker and fallbacks', () => {
      const board = dashboard();
      expect(board.uid).toBe('rate-limit');
      const exprs = dashboardQueries().map((q) => q.expr);
      const uses = (pattern: RegExp) => exprs.some((e) => pattern.test(e));
      expect(uses(/sum by \(rule, outcome\) \(rate\(rate_limit_decisions_total/)).toBe(true);
      for (const q of ['0.5', '0.95', '0.99']) {
        expect(
          uses(
            new RegExp(
              `histogram_quantile\\(${q}, sum by \\(le[^)]*\\) \\(rate\\(rate_limit_decision_duration_seconds_bucket`,
            ),
          ),
        ).toBe(true);
      }
      expect(uses(/rate_limit_store_errors_total/)).toBe(true);
      expect(uses(/rate_limit_breaker_state/)).toBe(true);
      expect(uses(/rate_limit_fallback_decisions_total/)).toBe(true);
      for (const panel of board.panels)
        expect({ panel: panel.title, targets: panel.targets?.length }).toEqual({
          panel: panel.title,
          targets: expect.any(Number),
        });
    });

    it('every dashboard query is valid PromQL (promtool parses it as a recording rule)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
      try {
        const rules = dashboardQueries().map(({ expr }, i) => ({
          record: `dashboard:query_${i}`,
          expr: expr.replaceAll('$__rate_interval', '1m').replace(/\$(instance|rule)\b/g, '.*'),
        }));
        writeFileSync(
          join(dir, 'queries.yml'),
          JSON.stringify({ groups: [{ name: 'dashboard', rules }] }),
        );
        const { code, output } = await promtool('check', 'rules', join(dir, 'queries.yml'));
        expect({ code, output }).toEqual({
          code: 0,
          output: expect.stringContaining(`SUCCESS: ${rules.length} rules found`),
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('docker compose --profile observability', () => {
    it('adds Prometheus and Grafana, both under the profile, and leaves the default setup as it was', () => {
      const compose = yamlFile('docker-compose.yml');
      const profiled = Object.entries(compose.services as Record<string, { profiles?: string[] }>)
        .filter(([, service]) => service.profiles)
        .map(([name, service]) => [name, service.profiles]);
      expect(profiled).toEqual([
        ['prometheus', ['observability']],
        ['grafana', ['observability']],
      ]);
      for (const name of ['prometheus', 'grafana']) {
        for (const volume of compose.services[name].volumes as string[]) {
          const source = volume.split(':')[0];
          expect({ volume, exists: existsSync(join(ROOT, source)) }).toEqual({
            volume,
            exists: true,
          });
        }
      }
    });
  });

  describe('against a live demo', () => {
    let redis: RedisServer;
    let demo: RunningApp;
    let exported: Set<string>;

    beforeAll(async () => {
      redis = await RedisServer.start();
      demo = await startDemo({ REDIS_URL: redis.url }, { keyPrefix: uniquePrefix('deploy') });
      // One decision, so the latency histogram has its buckets.
      expect((await fetch(`${demo.url}/api/public`)).status).toBe(200);
      const text = await (await fetch(`${demo.url}/metrics`)).text();
      exported = new Set(
        text
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('#'))
          .map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]),
      );
    });
    afterAll(async () => {
      await demo?.close();
      await redis?.stop();
    });

    it('every metric the dashboard queries is exported by the app', () => {
      const variables = dashboard().templating.list.filter((v) => v.type === 'query');
      const used = [
        ...dashboardQueries().flatMap(({ panel, expr }) =>
          metricNames(expr).map((name) => ({ where: panel, name })),
        ),
        ...variables.map((v) => {
          const query = typeof v.query === 'string' ? v.query : v.query.query;
          return {
            where: `$${v.name}`,
            name: /^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),/.exec(query)![1],
          };
        }),
      ];
      expect(new Set(used.map((u) => u.name))).toEqual(
        new Set([
          'rate_limit_decisions_total',
          'rate_limit_decision_duration_seconds_bucket',
          'rate_limit_store_errors_total',
          'rate_limit_breaker_state',
          'rate_limit_fallback_decisions_total',
        ]),
      );
      for (const { where, name } of used)
        expect({ where, name, exported: exported.has(name) }).toEqual({
          where,
          name,
          exported: true,
        });
    });

    it('every metric the alerts read is exported by the app', () => {
      const used = alertRules().flatMap(({ alert, expr }) =>
        metricNames(expr).map((name) => ({ alert, name })),
      );
      expect(used.length).toBeGreaterThanOrEqual(4);
      for (const { alert, name } of used)
        expect({ alert, name, exported: exported.has(name) }).toEqual({
          alert,
          name,
          exported: true,
        });
    });
  });
});
