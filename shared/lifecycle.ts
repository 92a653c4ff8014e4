import type { Logger } from './logging.js';

export type ShutdownStep = { name: string; run: () => Promise<void> };

/**
 * SIGTERM/SIGINT run the steps in order (stop intake, finish in-flight work, flush, commit,
 * leave the group) and exit; past `timeoutMs` the process exits anyway, non-zero.
 */
export function onShutdown(logger: Logger, timeoutMs: number, steps: ShutdownStep[]): () => Promise<void> {
  let running: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    running ??= (async () => {
      logger.info({ timeoutMs }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs }, 'shutdown timed out');
        process.exit(1);
      }, timeoutMs);
      timer.unref();
      for (const step of steps) {
        try {
          await step.run();
        } catch (error) {
          logger.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      logger.info('stopped');
    })();
    return running;
  };
  onStopSignal((signal) => {
    logger.info({ signal }, running === undefined ? 'stop signal received' : 'stop signal received again; still shutting down');
    void shutdown().then(() => process.exit(0));
  });
  return shutdown;
}

/**
 * Calls `handler` at every SIGTERM and SIGINT, the repeats included. The listener stays in place
 * for the life of the process: a signal that finds no listener takes Node's default action and
 * kills the process mid-shutdown, and a second SIGTERM is common (a supervisor and a wrapper such
 * as tsx or npm both passing it on, or an impatient operator).
 */
export function onStopSignal(handler: (signal: NodeJS.Signals) => void): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, handler);
}
