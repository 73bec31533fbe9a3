/**
 * Child-process entry of `probeAdapters()`: lists Dawn's adapters and prints them as one JSON line
 * on stdout. Dawn's own warnings go to stderr, which the parent collects.
 */
import { listAdaptersInProcess } from './webgpu';

listAdaptersInProcess()
  .then((adapters) => {
    process.stdout.write(`\n${JSON.stringify({ adapters })}\n`);
    process.exit(0);
  })
  .catch((e: unknown) => {
    process.stdout.write(`\n${JSON.stringify({ adapters: [], error: (e as Error).message.split('\n')[0] })}\n`);
    process.exit(0);
  });
