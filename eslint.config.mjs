import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** The library's internals, as apps and black-box tests must not reach them. */
const internals = {
  group: [
    '@app/rate-limit/*',
    '!@app/rate-limit/health',
    '!@app/rate-limit/metrics',
    '!@app/rate-limit/admin',
    '!@app/rate-limit/openapi',
  ],
  message:
    'Import from @app/rate-limit or its subpaths /health, /metrics, /admin and /openapi, as a user of the package would.',
};
const libsByPath = {
  regex: '^(\\.\\./)+libs/',
  message: 'Import the library as @app/rate-limit (or a subpath), not by its files.',
};

export default tseslint.config(
  { ignores: ['**/dist/', 'node_modules/', 'coverage/', 'bench/results/', 'libs/rate-limit/lua/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Nest types handlers and classes as `Function` (ExecutionContext.getHandler()): maps keyed
      // by them must use it too.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // CommonJS on purpose (a module Jest maps a CommonJS require to).
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: globals.node,
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['apps/**', 'test/e2e/**', 'test/package/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [internals, libsByPath] }] },
  },
  {
    // The integration suites and their support are white-box tests of the store and the Lua
    // scripts: they read key names and reference models that are not the package's API.
    files: ['test/integration/**', 'test/support/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [internals] }] },
  },
  prettier,
);
