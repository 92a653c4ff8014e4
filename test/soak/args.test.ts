import { describe, expect, it } from 'vitest';
import { parseSoakArgs } from '../../tools/soak/args.js';

describe('soak arguments', () => {
  it('reads every option, with defaults for the optional ones', () => {
    expect(parseSoakArgs(['--rate', '100', '--minutes', '0.5'])).toEqual({
      kind: 'run',
      options: {
        rate: 100, minutes: 0.5, replicas: 1, duplicates: 0, kill: [],
        downstreamOutageS: null, cognigyStormS: null, rollingRestart: false, churnS: null,
        exactlyOnce: false, out: 'soak-report', skipBuild: false,
      },
    });
    const all = parseSoakArgs([
      '--rate=250', '--minutes', '10', '--replicas', '2', '--duplicates', '0.05',
      '--kill', 'fulfillment', '--kill', 'ingress', '--exactly-once', '--out', '/tmp/soak', '--skip-build',
    ]);
    expect(all).toEqual({
      kind: 'run',
      options: {
        rate: 250, minutes: 10, replicas: 2, duplicates: 0.05, kill: ['fulfillment', 'ingress'],
        downstreamOutageS: null, cognigyStormS: null, rollingRestart: false, churnS: null,
        exactlyOnce: true, out: '/tmp/soak', skipBuild: true,
      },
    });
  });

  it('reads the fault options: seconds as numbers, the rolling restart as a switch', () => {
    const parsed = parseSoakArgs([
      '--rate', '50', '--minutes', '4', '--replicas', '2',
      '--downstream-outage', '60', '--cognigy-storm=30.5', '--rolling-restart', '--churn', '20',
    ]);
    expect(parsed).toMatchObject({ kind: 'run', options: { downstreamOutageS: 60, cognigyStormS: 30.5, rollingRestart: true, churnS: 20, kill: [] } });
  });

  it.each([
    // Up to half the load: a fault from the midpoint ends with the load at the latest.
    ['--downstream-outage', '30'],
    ['--cognigy-storm', '30'],
    // One join at 30 s and its leave at 60 s: the shortest load that holds a whole cycle.
    ['--churn', '30'],
    ['--churn', '5'],
  ])('accepts %s %s for a one-minute load', (flag, value) => {
    expect(parseSoakArgs(['--rate', '10', '--minutes', '1', flag, value]).kind).toBe('run');
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
    [['--rate', '10', '--minutes', '1', '--downstream-outage', '0'], /^--downstream-outage: expected seconds, more than 0 and at most 3600, got "0"$/],
    [['--rate', '10', '--minutes', '1', '--downstream-outage', 'long'], /^--downstream-outage: expected seconds.*got "long"$/],
    [['--rate', '10', '--minutes', '1', '--downstream-outage', '31'], /^--downstream-outage: 31 s from the midpoint outlasts the load \(30 s left of 60 s\)$/],
    [['--rate', '10', '--minutes', '1', '--cognigy-storm=-5'], /^--cognigy-storm: expected seconds, more than 0/],
    [['--rate', '10', '--minutes', '0.5', '--cognigy-storm', '20'], /^--cognigy-storm: 20 s from the midpoint outlasts the load \(15 s left of 30 s\)$/],
    [['--rate', '10', '--minutes', '1', '--churn', '4'], /^--churn: expected seconds, at least 5 and at most 3600, got "4"$/],
    [['--rate', '10', '--minutes', '1', '--churn', '31'], /^--churn: a join at 31 s and a leave at 62 s do not fit in a load of 60 s$/],
    [['--rate', '10', '--minutes', '1', '--rolling-restart', '--kill', 'ingress'], /^--rolling-restart: and --kill both act on the replicas at the midpoint; choose one$/],
    [['--rate', '10', '--minutes', '1', '--rolling-restart=yes'], /^Option '--rolling-restart' does not take an argument.*\(see --help\)$/],
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
