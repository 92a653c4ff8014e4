import { describe, expect, it } from 'vitest';
import { parseSoakArgs } from '../../tools/soak/args.js';

describe('soak arguments', () => {
  it('reads every option, with defaults for the optional ones', () => {
    expect(parseSoakArgs(['--rate', '100', '--minutes', '0.5'])).toEqual({
      kind: 'run',
      options: { rate: 100, minutes: 0.5, replicas: 1, duplicates: 0, kill: [], exactlyOnce: false, out: 'soak-report', skipBuild: false },
    });
    const all = parseSoakArgs([
      '--rate=250', '--minutes', '10', '--replicas', '2', '--duplicates', '0.05',
      '--kill', 'fulfillment', '--kill', 'ingress', '--exactly-once', '--out', '/tmp/soak', '--skip-build',
    ]);
    expect(all).toEqual({
      kind: 'run',
      options: { rate: 250, minutes: 10, replicas: 2, duplicates: 0.05, kill: ['fulfillment', 'ingress'], exactlyOnce: true, out: '/tmp/soak', skipBuild: true },
    });
  });

  it.each([
    [['--minutes', '1'], /^--rate: is required$/],
    [['--rate', 'fast', '--minutes', '1'], /^--rate: expected callbacks per second.*got "fast"$/],
    [['--rate', '0', '--minutes', '1'], /^--rate: expected callbacks per second, more than 0/],
    [['--rate', '10', '--minutes=-1'], /^--minutes: expected minutes, more than 0/],
    [['--rate', '10', '--minutes', '1', '--replicas', '1.5'], /^--replicas: expected a whole number from 1 to 8, got "1.5"$/],
    [['--rate', '10', '--minutes', '1', '--duplicates', '2'], /^--duplicates: expected a share from 0 to 1, got "2"$/],
    [['--rate', '10', '--minutes', '1', '--kill', 'broker'], /^--kill: expected one of ingress, fulfillment, ack-aggregator, got "broker"$/],
    [['--rate', '10', '--minutes', '1', '--kill', 'ingress', '--kill', 'ingress'], /^--kill: 2 kills of ingress but only 1 replica\(s\)$/],
    [['--rate', '10', '--minutes', '1', '--rat', '3'], /^Unknown option '--rat'.*\(see --help\)$/],
    [['--rate'], /argument missing.*\(see --help\)$/],
  ])('refuses %j with one line naming the flag', (argv, message) => {
    const parsed = parseSoakArgs(argv);
    expect(parsed.kind).toBe('error');
    if (parsed.kind !== 'error') return;
    expect(parsed.message).toMatch(message);
    expect(parsed.message).not.toContain('\n');
  });

  it('answers --help without requiring the other flags', () => {
    expect(parseSoakArgs(['--help'])).toEqual({ kind: 'help' });
  });
});
