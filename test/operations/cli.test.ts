import { describe, expect, it } from 'vitest';
import { runCli } from '../../tools/cli/commands.js';
import { captureOut, ExitCode } from '../../shared/operations/output.js';

/** The dispatcher stops before any Kafka connection on these paths, so no broker is needed. */
async function cli(argv: string[], env: Record<string, string> = {}) {
  const out = captureOut();
  const err = captureOut();
  const code = await runCli(argv, { env, out, err });
  return { code, out: out.text(), err: err.text() };
}

describe('the operations CLI dispatcher', () => {
  it('prints the command list on --help and exits 0', async () => {
    const { code, out } = await cli(['--help']);
    expect(code).toBe(ExitCode.ok);
    expect(out).toMatch(/replay/);
    expect(out).toMatch(/dlq redrive/);
    expect(out).toMatch(/topics describe/);
  });

  it('prints each command its own options', async () => {
    expect((await cli(['replay', '--help'])).out).toMatch(/--to-datetime ISO/);
    expect((await cli(['dlq', 'redrive', '--help'])).out).toMatch(/redriven-from/);
    expect((await cli(['topics', '--help'])).out).toMatch(/topics ensure[\s\S]*topics describe/);
  });

  it('refuses an unknown command or option with exit 2 and a pointer to --help', async () => {
    expect((await cli(['rewind'])).code).toBe(ExitCode.usage);
    const unknownOption = await cli(['dlq', 'list', '--reasons', 'x']);
    expect(unknownOption.code).toBe(ExitCode.usage);
    expect(unknownOption.err).toMatch(/Unknown option '--reasons'[\s\S]*dlq list --help/);
  });

  it('names the variable of a bad configuration in one line', async () => {
    const { code, err } = await cli(['topics', 'ensure'], { TOPIC_PARTITIONS: 'many' });
    expect(code).toBe(ExitCode.usage);
    expect(err).toMatch(/^configuration error: TOPIC_PARTITIONS: /);
  });
});
