import { z } from 'zod';
import { env } from '../../shared/config.js';

export const SimulatorEnv = z.object({
  SIMULATOR_PORT: env.int(8090, 0, 65_535),
  SIMULATOR_HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.string().default('info'),
});
export type SimulatorConfig = z.infer<typeof SimulatorEnv>;
