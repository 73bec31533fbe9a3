/** checkAgainst, the notebooks' "implement it yourself" check: passes, fails loudly, or reminds. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ml from 'margin-lab';
import { tf, checkAgainst, useBestBackend } from 'margin-lab';
import { ROOT, runNotebooks } from './helpers/paths';

test('checkAgainst passes within tolerance and reports the largest difference', async () => {
  await useBestBackend({ print: false });
  const r = await checkAgainst([1, 2.000001, 3], tf.tensor1d([1, 2, 3]), { label: 'demo' });
  assert.equal(r.pass, true);
  assert.ok(Math.abs(r.maxDiff - 1e-6) < 1e-9, String(r.maxDiff));
  assert.match(r.line, /^✓ demo: all 3 values agree, largest difference 1\.00e-6 \(tolerance 0\.00001\)$/);
  // Relative to |reference| above 1; NaN matches NaN.
  assert.equal((await checkAgainst([1000.005, NaN], [1000, NaN])).pass, true);
});

test('checkAgainst throws on a wrong answer, naming the element and both values', async () => {
  await assert.rejects(
    checkAgainst(
      [
        [1, 2],
        [3, 4.5],
      ],
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      { label: 'loss gradient' },
    ),
    /✗ loss gradient: differs at \[1, 1\]: yours 4\.5, reference 4 \(difference 5\.00e-1, tolerance 0\.00001\)/,
  );
  await assert.rejects(checkAgainst([1, NaN], [1, 2]), /at \[1\]: yours NaN, reference 2/);
  await assert.rejects(checkAgainst([1, 2, 3], [[1, 2, 3]]), /shape \[3\], the reference's is \[1, 3\]/);
  await assert.rejects(checkAgainst([1], [1], { tolerance: -1 }), /tolerance must be ≥ 0, got -1/);
  await assert.rejects(
    checkAgainst('1' as never, [1]),
    /yours must be a number, an array of numbers or a tensor, got string/,
  );
});

test('checkAgainst with nothing yet is a reminder, not an error', async () => {
  const r = await checkAgainst(null, [1, 2], { label: 'CosFace logits' });
  assert.equal(r.implemented, false);
  assert.match(r.line, /CosFace logits: not implemented yet/);
});

test('check modes: strict throws, student prints ✗ and goes on; MARGIN_LAB_CHECKS=strict overrides the notebook', async () => {
  const saved = process.env.MARGIN_LAB_CHECKS;
  try {
    delete process.env.MARGIN_LAB_CHECKS;
    assert.equal(ml.checkMode(), 'strict', 'outside a notebook the default is strict');
    ml.setCheckMode('student');
    assert.equal(ml.checkMode(), 'student');
    const r = await checkAgainst([1, 5], [1, 2], { label: 'a student answer' });
    assert.equal(r.pass, false);
    assert.equal(r.implemented, true);
    assert.match(r.line, /^✗ a student answer: differs at \[1\]: yours 5, reference 2/);
    const shape = await checkAgainst([1], [1, 2]);
    assert.equal(shape.pass, false);
    // The notebook runner and the course builder set MARGIN_LAB_CHECKS=strict: it wins over setCheckMode.
    process.env.MARGIN_LAB_CHECKS = 'strict';
    assert.equal(ml.checkMode(), 'strict');
    await assert.rejects(checkAgainst([1, 5], [1, 2]), /✗ your implementation: differs at \[1\]/);
    process.env.MARGIN_LAB_CHECKS = 'lenient';
    assert.throws(() => ml.checkMode(), /MARGIN_LAB_CHECKS=lenient: expected strict or student/);
    assert.throws(
      () => ml.setCheckMode('loose' as ml.CheckMode),
      /setCheckMode: expected 'strict' or 'student', got "loose"/,
    );
  } finally {
    if (saved === undefined) delete process.env.MARGIN_LAB_CHECKS;
    else process.env.MARGIN_LAB_CHECKS = saved;
    ml.setCheckMode('strict');
  }
});

test('in a real kernel, student mode lets Run All continue past a wrong answer; the runner is strict by default', () => {
  // Inside the checkout (build/ is ignored), where the kernel resolves 'margin-lab'.
  const dir = fs.mkdtempSync(path.join(ROOT, 'build', 'nb-student-'));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-student-'));
  const nb = path.join(dir, 'student.ipynb');
  const cell = (source: string) => ({
    cell_type: 'code',
    id: `c${source.length}`,
    execution_count: null,
    metadata: {},
    outputs: [],
    source,
  });
  fs.writeFileSync(
    nb,
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {
        kernelspec: { name: 'margin-lab-ts', display_name: 'TypeScript (margin-lab)', language: 'typescript' },
      },
      cells: [
        cell("import * as ml from 'margin-lab';"),
        cell("const wrong = await ml.checkAgainst([1, 5], [1, 2], { label: 'exercise 1' });"),
        cell('console.log(`after the check: pass = ${wrong.pass}`);'),
      ],
    }),
  );
  const student = runNotebooks([nb, '--executed-dir', out], { MARGIN_LAB_CHECKS: 'student' });
  assert.equal(student.status, 0, student.stdout + student.stderr);
  const printed = JSON.stringify(
    JSON.parse(fs.readFileSync(path.join(out, 'student.ipynb'), 'utf8')).cells.map(
      (c: { outputs: unknown }) => c.outputs,
    ),
  );
  assert.match(printed, /✗ exercise 1: differs at \[1\]/);
  assert.match(printed, /student mode: the notebook goes on/);
  assert.match(printed, /after the check: pass = false/);
  const strict = runNotebooks([nb]);
  assert.notEqual(strict.status, 0, 'the runner let a failed check pass');
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(out, { recursive: true });
});
