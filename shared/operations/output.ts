/** Where a command writes: process.stdout from the dispatcher, a captured buffer in tests. */
export interface Out {
  write(chunk: string): unknown;
}

export function println(out: Out, line = ''): void {
  out.write(`${line}\n`);
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

/** Collects everything written, for tests and for commands that call each other. */
export function captureOut(): Out & { text(): string } {
  const chunks: string[] = [];
  return { write: (chunk: string) => chunks.push(chunk), text: () => chunks.join('') };
}

/** Exit codes shared by every command, so scripts tell outcomes apart without parsing output. */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  nothingToDo: 3,
  refused: 4,
  /** Topics differ from the catalogue (or are missing). */
  drift: 5,
} as const;
