/**
 * Where an offset of transformed code was in the source, through the transform's source map
 * (version 3; only `mappings` is read). Used to name the line of a contract that cannot be
 * read: Vite's esbuild step reprints the module, so its lines are not the author's.
 */

/** A 1-based line and a 0-based column, as Vite and editors print them. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** `offset` in `code` as a line and column of that same text. */
export function positionIn(code: string, offset: number): Position {
  let line = 1;
  let start = 0;
  for (let i = code.indexOf('\n'); i !== -1 && i < offset; i = code.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The segments of one line of `mappings`: each field decoded from base64 VLQ, still relative. */
function segments(line: string): number[][] {
  const out: number[][] = [];
  for (const segment of line.split(',')) {
    if (segment === '') continue;
    const fields: number[] = [];
    let value = 0;
    let shift = 0;
    for (const char of segment) {
      const digit = BASE64.indexOf(char);
      value += (digit & 31) << shift;
      if (digit & 32) {
        shift += 5;
        continue;
      }
      fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
    out.push(fields);
  }
  return out;
}

/**
 * The source position of `at` (a position in the generated code), or `undefined` when the
 * map says nothing about that line.
 *
 * @example
 * originalPosition({ mappings: 'AAAA;AACA' }, { line: 2, column: 0 }); // { line: 2, column: 0 }
 */
export function originalPosition(map: { readonly mappings: string }, at: Position): Position | undefined {
  // Source line and column are relative to the previous segment across lines; the generated
  // column restarts on each line.
  let sourceLine = 0;
  let sourceColumn = 0;
  let found: Position | undefined;
  const lines = map.mappings.split(';');
  for (let i = 0; i < lines.length && i < at.line; i++) {
    let column = 0;
    for (const fields of segments(lines[i] ?? '')) {
      column += fields[0] ?? 0;
      if (fields.length < 4) continue;
      sourceLine += fields[2] ?? 0;
      sourceColumn += fields[3] ?? 0;
      if (i === at.line - 1 && column <= at.column) found = { line: sourceLine + 1, column: sourceColumn };
      else if (i === at.line - 1 && found === undefined) found = { line: sourceLine + 1, column: sourceColumn };
    }
  }
  return found;
}
