/**
 * The public API (src/index.ts) is an explicit list: internals stay out of it, and everything the
 * notebooks use through `ml.` is in it (the notebooks are the library's first users).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as ml from 'margin-lab';
import { ROOT } from './helpers/paths';

test('the public API is exactly the reviewed list in test/fixtures/public-api.txt (an export added or removed is a deliberate change)', () => {
  const want = fs
    .readFileSync(path.join(ROOT, 'test', 'fixtures', 'public-api.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const got = Object.keys(ml).sort();
  const added = got.filter((n) => !want.includes(n));
  const removed = want.filter((n) => !got.includes(n));
  assert.deepEqual(
    { added, removed },
    { added: [], removed: [] },
    'the exports of src/index.ts changed: if that is intended, update test/fixtures/public-api.txt (and the README / docs)',
  );
});

test('internals are not exported from margin-lab', () => {
  const api = ml as unknown as Record<string, unknown>;
  for (const internal of [
    'registerWasmFastKernels',
    'registerWasmConvGradients',
    'checkOptionKeys',
    'checkRange',
    'safeAcos',
    'readCheckpoint',
    'saveCheckpoint',
    'lossOptionsFromFlags',
    'validateFigure',
    'parseIdxTyped',
  ])
    assert.equal(api[internal], undefined, `${internal} is internal but exported`);
});

test('every ml.<name> the notebooks and solutions use as a value is exported', () => {
  const dirs = [path.join(ROOT, 'notebooks', 'src'), path.join(ROOT, 'notebooks', 'src', 'solutions')];
  const used = new Set<string>();
  for (const dir of dirs)
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.ts.md'))) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      // Value positions only: a name after `:`, `<`, `|` or `as` is a type (checked by tslab's compiler).
      for (const m of text.matchAll(/\bml\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
        const before = text.slice(Math.max(0, m.index! - 12), m.index!);
        if (!/(:|<|\||\bas)\s*$/.test(before)) used.add(m[1]);
      }
    }
  assert.ok(used.size > 20, `only ${used.size} names found: the notebook sources moved?`);
  const missing = [...used].filter((n) => (ml as unknown as Record<string, unknown>)[n] === undefined);
  assert.deepEqual(missing, [], `used in notebooks but not exported: ${missing.join(', ')}`);
});
