/**
 * Talking to the tslab kernel when we run inside one. tslab's public `display` API sends one MIME
 * type per output; a Plotly figure needs several in ONE output (the JupyterLab renderer's JSON,
 * HTML for Notebook/nbconvert, plain text), so we use the writer tslab 1.0.22 keeps for the
 * running cell (`lastWriteDisplayData`). Outside a kernel these functions report `false`.
 */
import * as crypto from 'crypto';

type WriteDisplay = (
  content: { data: Record<string, unknown>; metadata: Record<string, unknown>; transient: Record<string, unknown> },
  update: boolean,
) => void;

function tslabWriter(): WriteDisplay | null {
  try {
    // Resolved from this package so the kernel's own module instance is used.

    const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData?: WriteDisplay | null };
    return jupyter.lastWriteDisplayData ?? null;
  } catch {
    return null;
  }
}

/** True when running inside a tslab kernel cell. */
export function inNotebook(): boolean {
  return tslabWriter() !== null;
}

/** Emits one display output carrying every given MIME type. Returns false outside a kernel. */
export function displayBundle(data: Record<string, unknown>, displayId?: string, update = false): boolean {
  const write = tslabWriter();
  if (!write) return false;
  write({ data, metadata: {}, transient: displayId ? { display_id: displayId } : {} }, update);
  return true;
}

/**
 * A display that can be overwritten in place (progress lines in notebooks): the first `set`
 * creates the output, later ones update it.
 *
 * Updates are coalesced and sent when the event loop next turns: tslab 1.0.22 sends on one
 * zeromq socket without waiting, and two sends in the same tick ("Socket is busy writing")
 * crash the kernel. A synchronous loop calling `set` thousands of times sends only the last
 * value; code that wants the updates to appear while it runs must yield (await) now and then.
 */
export class LiveDisplay {
  private readonly id = crypto.randomBytes(8).toString('hex');
  private started = false;
  private pending: { write: WriteDisplay; data: Record<string, unknown> } | null = null;

  set(data: Record<string, unknown>): boolean {
    // The writer belongs to the cell running now; capture it so the output lands in this cell.
    const write = this.pending?.write ?? tslabWriter();
    if (!write) return false;
    const scheduled = this.pending !== null;
    this.pending = { write, data };
    if (!scheduled) setImmediate(() => this.flush());
    return true;
  }

  private flush(): void {
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    p.write({ data: p.data, metadata: {}, transient: { display_id: this.id } }, this.started);
    this.started = true;
  }
}
