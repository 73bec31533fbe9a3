/** checkAgainst, the notebooks' "implement it yourself" check: passes, fails loudly, or reminds. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { tf, checkAgainst, useBestBackend } from 'margin-lab';

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
