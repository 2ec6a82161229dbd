import type { FailureMode } from '@app/rate-limit';

export type Tier = 'free' | 'pro' | 'enterprise';

/** The demo's environment, parsed once (see the README's configuration table). */
export interface DemoConfig {
  readonly port: number;
  readonly host: string;
  readonly httpAdapter: 'express' | 'fastify';
  readonly redisUrl?: string;
  readonly redisClusterNodes?: ReadonlyArray<{ host: string; port: number }>;
  readonly redisSentinels?: ReadonlyArray<{ host: string; port: number }>;
  readonly redisSentinelName: string;
  readonly failureMode: FailureMode;
  readonly adminToken?: string;
  readonly trustProxy: boolean | number | string[];
  readonly apiKeys: ReadonlyMap<string, Tier>;
}

const DEFAULT_API_KEYS = 'demo-free:free,demo-pro:pro,demo-enterprise:enterprise';

class ConfigError extends Error {
  constructor(variable: string, why: string) {
    super(`Invalid environment variable ${variable}: ${why}`);
    this.name = 'ConfigError';
  }
}

function parseTrustProxy(raw: string | undefined): boolean | number | string[] {
  const value = raw?.trim();
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of list) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry)) {
      throw new ConfigError(
        'TRUST_PROXY',
        `"${entry}" is not an IP or CIDR (use false, true, a hop count or a CIDR list)`,
      );
    }
  }
  return list;
}

function parseHostPorts(
  variable: string,
  raw: string | undefined,
): Array<{ host: string; port: number }> | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  return value.split(',').map((node) => {
    const match = /^\s*([^:\s]+):(\d+)\s*$/.exec(node);
    if (!match || Number(match[2]) > 65535)
      throw new ConfigError(variable, `"${node}" must be host:port`);
    return { host: match[1], port: Number(match[2]) };
  });
}

function parseApiKeys(raw: string): Map<string, Tier> {
  const keys = new Map<string, Tier>();
  for (const pair of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = pair.lastIndexOf(':');
    const key = pair.slice(0, at);
    const tier = pair.slice(at + 1);
    if (at <= 0 || !['free', 'pro', 'enterprise'].includes(tier)) {
      throw new ConfigError(
        'DEMO_API_KEYS',
        `"${pair}" must be key:tier with tier free, pro or enterprise`,
      );
    }
    keys.set(key, tier as Tier);
  }
  return keys;
}

/** Unset or empty disables the admin API; otherwise a token that is hard to guess and can be sent. */
function parseAdminToken(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < 16 || /\s/.test(raw)) {
    throw new ConfigError(
      'ADMIN_TOKEN',
      'must be at least 16 characters with no whitespace (or unset to disable /admin)',
    );
  }
  return raw;
}

/** Reads the environment; throws naming the variable on bad input. */
export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError('PORT', 'must be a port number');
  const httpAdapter = (env.HTTP_ADAPTER ?? 'express').toLowerCase();
  if (httpAdapter !== 'express' && httpAdapter !== 'fastify') {
    throw new ConfigError('HTTP_ADAPTER', 'must be express or fastify');
  }
  const failureMode = (env.RATE_LIMIT_FAILURE_MODE ?? 'memory').toLowerCase();
  if (!['memory', 'open', 'closed'].includes(failureMode)) {
    throw new ConfigError('RATE_LIMIT_FAILURE_MODE', 'must be memory, open or closed');
  }
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
  }
  const redisClusterNodes = parseHostPorts('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES);
  const redisSentinels = parseHostPorts('REDIS_SENTINELS', env.REDIS_SENTINELS);
  return Object.freeze({
    port,
    host: env.HOST?.trim() || '0.0.0.0',
    httpAdapter,
    redisUrl,
    redisClusterNodes,
    redisSentinels,
    redisSentinelName: env.REDIS_SENTINEL_NAME?.trim() || 'mymaster',
    failureMode: failureMode as FailureMode,
    adminToken: parseAdminToken(env.ADMIN_TOKEN),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    apiKeys: parseApiKeys(env.DEMO_API_KEYS ?? DEFAULT_API_KEYS),
  });
}

/** DI token of the parsed config. */
export const DEMO_CONFIG = Symbol('DEMO_CONFIG');
