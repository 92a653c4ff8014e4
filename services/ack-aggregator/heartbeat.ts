/**
 * Awaits `work` while heartbeating the consumer group every second, so a slow read-back, decode or
 * DLQ write does not cost the member its partitions.
 */
export async function whileHeartbeating<T>(heartbeat: () => Promise<void>, work: Promise<T>): Promise<T> {
  let done = false;
  const beats = (async () => {
    while (!done) {
      await Promise.race([work.catch(() => undefined), delay(1_000)]);
      if (!done) await heartbeat();
    }
  })();
  try {
    return await Promise.race([work, beats.then(() => work)]);
  } finally {
    done = true;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
