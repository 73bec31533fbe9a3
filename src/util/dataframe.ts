/**
 * What margin-lab's type declarations say about the DataFrames it returns (`historyFrame()`,
 * `benchmarkFrame()`): the object is danfojs-node's own DataFrame, and this is the part of it the
 * declarations name. They do not import danfojs-node, so a strict TypeScript project without it
 * type-checks; where danfo is installed, cast for the rest of its API:
 * `frame as unknown as import('danfojs-node').DataFrame`.
 */
export interface DataFrameLike {
  /** [rows, columns]. */
  readonly shape: number[];
  readonly columns: string[];
  /** Prints the table to the console. */
  print(): void;
}
