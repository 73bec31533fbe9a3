/**
 * Renders syllables in ONE font face and composes them into samples; run as its own process
 * for each face, because sharp's `fontfile` registration is process-wide and sticky (a later
 * request may be drawn in an earlier file's font whatever family it names).
 *
 * argv[2]: JSON `RenderJob`. Writes the samples (n × size × size bytes, in job order) to
 * `job.out` and prints one JSON line `RenderResult`.
 */
import * as fs from 'fs';
import sharp from 'sharp';
import { composeGlyph, drawJitter, JitterRange, NO_JITTER, sampleSeed } from './compose';

export interface RenderJob {
  file: string;
  family: string;
  pangoWeight: string;
  faceId: string;
  syllables: string[];
  size: number;
  /** null: no jitter (the centered probe renders used to find duplicate faces). */
  jitter: JitterRange | null;
  seed: number;
  out: string;
}

export interface RenderResult {
  faceId: string;
  /** Syllables that rendered with no ink. */
  blank: string[];
  count: number;
}

/** The Pango font description for a face at 64 px. */
export function fontDescription(family: string, pangoWeight: string): string {
  return `${family}${pangoWeight ? ` ${pangoWeight}` : ''} 64px`;
}

export async function renderFace(job: RenderJob): Promise<RenderResult> {
  const font = fontDescription(job.family, job.pangoWeight);
  const out = Buffer.alloc(job.syllables.length * job.size * job.size);
  const blank: string[] = [];
  for (const [i, ch] of job.syllables.entries()) {
    let rendered: { data: Buffer; info: { width: number; height: number } };
    try {
      rendered = await sharp({ text: { text: ch, font, fontfile: job.file, dpi: 72, rgba: false } })
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
    } catch (e) {
      // libvips refuses a text whose drawing has no ink at all: that is a blank glyph.
      if (/no text to render/.test((e as Error).message)) {
        blank.push(ch);
        continue;
      }
      throw e;
    }
    const { data, info } = rendered;
    const j = job.jitter ? drawJitter(job.jitter, sampleSeed(job.seed, ch, job.faceId)) : NO_JITTER;
    const img = composeGlyph(
      new Uint8Array(data.buffer, data.byteOffset, data.length),
      info.width,
      info.height,
      job.size,
      j,
    );
    if (!img) blank.push(ch);
    else out.set(img, i * job.size * job.size);
  }
  fs.writeFileSync(job.out, out);
  return { faceId: job.faceId, blank, count: job.syllables.length };
}

if (require.main === module) {
  renderFace(JSON.parse(process.argv[2]) as RenderJob)
    .then((r) => console.log(JSON.stringify(r)))
    .catch((e: Error) => {
      console.error(`error: ${e.message}`);
      process.exit(1);
    });
}
