import { describe, expect, it } from 'vitest';
import { uncleanStops, type Restart } from '../../tools/soak/report.js';

describe('soak report: stops', () => {
  it('warns of every SIGTERM that did not end in exit code 0: a shutdown that timed out, a hang killed, a process not exited', () => {
    const restarts: Restart[] = [
      { service: 'fulfillment', stopped: 'fulfillment#1', signalAtS: 30, exitedAtS: 30.2, exit: 'exit code 0' },
      { service: 'ingress', stopped: 'ingress#1', signalAtS: 31, exitedAtS: 46, exit: 'exit code 1' },
      { service: 'ack-aggregator', stopped: 'ack-aggregator#2', signalAtS: 47, exitedAtS: 77, exit: 'SIGKILL' },
      { service: 'ingress', stopped: 'ingress#2', signalAtS: 78 },
    ];
    expect(uncleanStops(restarts)).toEqual([
      'ingress#1 did not stop cleanly after SIGTERM (exit code 1)',
      'ack-aggregator#2 did not stop cleanly after SIGTERM (SIGKILL)',
      'ingress#2 did not stop cleanly after SIGTERM (not exited)',
    ]);
  });
});
