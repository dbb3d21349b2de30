/** Text output the commands share: colour when it is a terminal, one-line cells, aligned tables. */

/** ANSI colour only when stdout is a terminal and NO_COLOR is unset. */
export function palette(stream: NodeJS.WriteStream = process.stdout) {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  const wrap = (open: number, close: number) => (s: string) => (on ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

/** Cuts a value for a one-line table cell; control characters from the database never reach the terminal. */
export function cell(value: string | null | undefined, max = 80): string {
  const s = String(value ?? '').replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function table(rows: string[][], indent = '  '): string {
  const visible = (s: string) => s.replace(/\u001b\[\d+m/g, '').length;
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(c))));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visible(c)))).join('  ').trimEnd()).join('\n');
}
