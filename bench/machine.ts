import os from 'node:os';

/** One line describing where a benchmark ran, printed with every result. */
export function describeMachine(): string {
  const cpus = os.cpus();
  return [
    `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown cpu'}`,
    `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `${os.type()} ${os.release()}`,
    `node ${process.version}`,
  ].join(', ');
}
