import { signHmac } from '../../services/ingress/auth.js';
import { IngressEnv, type IngressConfig } from '../../services/ingress/config.js';
import { loadConfig } from '../../shared/config.js';

export const SECRET = 'integration-secret';

export function ingressConfig(overrides: Record<string, string>): IngressConfig {
  return loadConfig(IngressEnv, {
    INGRESS_PORT: '0',
    INGRESS_ADMIN_PORT: '0',
    INGRESS_HOST: '127.0.0.1',
    COGNIGY_WEBHOOK_SECRETS: SECRET,
    LOG_LEVEL: 'warn',
    TOPIC_PARTITIONS: '6',
    ...overrides,
  });
}

/** Sends a callback signed as a Cognigy Flow signs it: HMAC-SHA256 hex of the raw body. */
export async function postSigned(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  secret = SECRET,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const response = await fetch(`${url}/webhooks/cognigy`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cognigy-signature': `sha256=${signHmac(raw, secret)}`, ...headers },
    body: raw,
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
