/** The test tiers (scripts/test.js): every test file is in exactly one, so no file is left out of a tier run. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './helpers/paths';

test('every test file is in exactly one tier of scripts/test.js, and every tier entry is a test file', () => {
  const { TIERS } = require(path.join(ROOT, 'scripts', 'test.js')) as { TIERS: Record<string, string[]> };
  const files = fs
    .readdirSync(path.join(ROOT, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => f.replace(/\.test\.ts$/, ''))
    .sort();
  const listed = Object.values(TIERS).flat();
  const twice = listed.filter((f, i) => listed.indexOf(f) !== i);
  assert.deepEqual(twice, [], 'in more than one tier');
  assert.deepEqual(
    files.filter((f) => !listed.includes(f)),
    [],
    'test files in no tier',
  );
  assert.deepEqual(
    listed.filter((f) => !files.includes(f)),
    [],
    'tier entries without a test file',
  );
  // The native tier is what test:native runs first.
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  for (const f of TIERS.native) assert.ok(pkg.scripts['test:native'].includes(`build/test/${f}.test.js`), f);
  // npm test runs every tier (scripts/test.js all), and the files it runs alone are test files.
  assert.match(pkg.scripts.test, /node scripts\/test\.js all$/, 'npm test');
  const { ALONE } = require(path.join(ROOT, 'scripts', 'test.js')) as { ALONE: string[] };
  assert.ok(ALONE.length > 0 && ALONE.every((f) => listed.includes(f)), `ALONE: ${ALONE.join(', ')}`);
  for (const t of ['unit', 'integration', 'browser'])
    assert.match(pkg.scripts[`test:${t}`] ?? '', new RegExp(`node scripts/test\\.js ${t}$`), `npm run test:${t}`);
});

test('layering is enforced by lint: a module importing a layer above it is an error, a type-only import is not', async () => {
  const { ESLint } = require('eslint') as typeof import('eslint');
  const eslint = new ESLint({ cwd: ROOT });
  const lint = async (file: string, code: string) =>
    (await eslint.lintText(code, { filePath: path.join(ROOT, file) }))[0].messages
      .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
      .map((m) => m.message);
  assert.match(
    (await lint('src/losses/zz.ts', "import { train } from '../train';\nexport const x = train;\n")).join('\n'),
    /src\/backend, src\/losses, src\/models, src\/data may not import a layer above it/,
  );
  assert.match(
    (
      await lint('src/train/zz.ts', "import { useBestBackend } from '../backend';\nexport const x = useBestBackend;\n")
    ).join('\n'),
    /do not import src\/backend/,
  );
  assert.match(
    (
      await lint('src/eval/zz.ts', "import { benchmarkRun } from '../benchmark';\nexport const x = benchmarkRun;\n")
    ).join('\n'),
    /src\/eval, src\/train may not import a layer above it/,
  );
  assert.deepEqual(
    await lint('src/plot/zz.ts', "import type { BenchmarkRun } from '../benchmark';\nexport type X = BenchmarkRun;\n"),
    [],
  );
  assert.deepEqual(await lint('src/cli/zz.ts', "import { train } from '../train';\nexport const x = train;\n"), []);
});
