// Flat config: typescript-eslint type-checked rules plus the layer rules of docs/architecture.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (folder, forbidden) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({ group: [`**/${f}/*`, `**/${f}`], message: `${folder}/ must not import ${f}/ (see docs/architecture.md)` })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'bench/results/**', 'node_modules/**', 'build/**', 'coverage/**', '**/*.mjs', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      curly: ['error', 'all'],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-template': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  { files: ['src/**/*.ts'], rules: { 'no-console': 'error' } },
  { files: ['src/cli.ts'], rules: { 'no-console': 'off' } },
  layer('util', ['amf', 'kernels', 'media', 'core', 'protocols', 'mesh', 'scripting', 'config']),
  layer('amf', ['kernels', 'media', 'core', 'protocols', 'mesh', 'scripting']),
  layer('media', ['core', 'protocols', 'mesh', 'scripting']),
  layer('core', ['protocols', 'mesh', 'scripting']),
  layer('protocols', ['mesh', 'scripting']),
  layer('mesh', ['protocols', 'scripting']),
  layer('scripting', ['protocols', 'mesh']),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }],
      }],
    },
  },
);
