import { z } from 'zod';
import { commonEnv } from '../../shared/config.js';
import { topicCatalogEnv } from '../../shared/topic-catalog.js';

/** The operations CLI reads the same env as the services, plus the group names it acts on. */
export const CliEnv = z.object({
  ...commonEnv,
  ...topicCatalogEnv,
  FULFILLMENT_GROUP_ID: z.string().min(1).default('cognigy-fulfillment'),
  ACK_GROUP_ID: z.string().min(1).default('cognigy-ack-aggregator'),
  DLQ_REDRIVE_GROUP_ID: z.string().min(1).default('cognigy-dlq-redrive'),
});

export type CliConfig = z.infer<typeof CliEnv>;
