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
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void shutdown().then(() => process.exit(0));
    });
  }
  return shutdown;
}
