/**
 * Jest (ESM): unit specs beside the code; integration, e2e and topology (Redis Cluster and Sentinel
 * cold starts, failovers, slot moves) suites against real redis-server processes. `npm test` runs
 * the first three; `npm run test:topology` runs the topology suites one at a time, because their
 * clusters and steady loads would slow the timing-sensitive suites running beside them.
 */
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^@app/rate-limit$': '<rootDir>/libs/rate-limit/src/index.ts',
    '^@app/rate-limit/(health|metrics|admin|openapi)$': '<rootDir>/libs/rate-limit/src/$1.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^content-disposition$': '<rootDir>/test/support/content-disposition.cjs',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }] },
  testEnvironment: 'node',
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{libs,apps,tools}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
    // Packs the library and installs it into fresh apps: slow, so `npm run test:package` only.
    {
      ...common,
      displayName: 'package',
      testMatch: ['<rootDir>/test/package/**/*.pkg-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
    // Clusters with replicas and sentinels, killed and resharded: `npm run test:topology` only.
    {
      ...common,
      displayName: 'topology',
      testMatch: ['<rootDir>/test/topology/**/*.topology-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
  ],
  testTimeout: 30_000,
};
