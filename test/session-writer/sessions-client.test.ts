import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { SessionGone, SessionsClient } from '../../services/session-writer/sessions-client.js';
import { ApiKeyAuth, OAuthClientCredentials, type CognigyAuth } from '../../shared/cognigy/auth.js';
import { COGNIGY_CONTRACT } from '../../shared/cognigy/contract.js';
import { CognigyRateLimited, CognigyUnauthorized, CognigyUnavailable } from '../../shared/cognigy/errors.js';
import { ContractCheck } from '../support/cognigy-contract.js';

/**
 * The session writer's client against the simulator, no broker: every request it sends and every
 * answer it gets, faults included, is held to the Cognigy contract.
 */
let sim: RunningSimulator;
const contract = new ContractCheck({ requests: true, answers: true });

beforeAll(async () => {
  sim = await startSimulator(0);
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.cognigy.reset());
afterEach(() => contract.verify());

const never = new AbortController().signal;

function clientWith(auth: CognigyAuth): SessionsClient {
  return new SessionsClient({ baseUrl: sim.url, variablesPath: COGNIGY_CONTRACT.sessionVariables.path, timeoutMs: 2_000 }, auth, { fetch: contract.wrap() });
}

const apiKey = (key: string = SIMULATOR_CREDENTIALS.apiKey) => new ApiKeyAuth(key, 'x-cognigy-api-key');

describe('SessionsClient against the simulated runtime API', () => {
  it('writes variables with X-Cognigy-Api-Key, a session id that needs encoding included', async () => {
    const client = clientWith(apiKey());
    await client.write('chat/42 ä', { processed_intent: 'book_flight', webhook_processed: true }, never);
    await client.write('chat/42 ä', { processed_response: 'done' }, never);
    expect(sim.cognigy.sessionVariables.get('chat/42 ä')).toEqual({ processed_intent: 'book_flight', webhook_processed: true, processed_response: 'done' });
    expect(contract.answered('sessionVariables')).toEqual([200]);
  });

  it('writes with a bearer token from the token endpoint', async () => {
    const oauth = new OAuthClientCredentials(
      {
        baseUrl: sim.url,
        tokenPath: COGNIGY_CONTRACT.token.path,
        clientId: SIMULATOR_CREDENTIALS.clientId,
        clientSecret: SIMULATOR_CREDENTIALS.clientSecret,
        scope: 'session:write',
        refreshBeforeMs: 30_000,
        timeoutMs: 2_000,
      },
      { fetch: contract.wrap() },
    );
    await clientWith(oauth).write('s-1', { a: 1 }, never);
    expect(sim.cognigy.sessionCalls.map((c) => [c.auth, c.status])).toEqual([['bearer', 200]]);
    expect(contract.exchanges.map((e) => [e.endpoint, e.status])).toEqual([
      ['token', 200],
      ['sessionVariables', 200],
    ]);
  });

  it('turns a 429, a 500, a gone session and a refused key into their typed errors', async () => {
    const client = clientWith(apiKey());
    sim.cognigy.inject({ variablesRateLimit: { count: 1, retryAfterS: 2 }, variablesServerErrors: 1, goneSessions: ['s-gone'] });
    const limited = await client.write('s-1', { a: 1 }, never).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(CognigyRateLimited);
    expect((limited as CognigyRateLimited).retryAfterMs).toBe(2_000);
    await expect(client.write('s-1', { a: 1 }, never)).rejects.toBeInstanceOf(CognigyUnavailable);
    await expect(client.write('s-gone', { a: 1 }, never)).rejects.toBeInstanceOf(SessionGone);
    await expect(clientWith(apiKey('wrong')).write('s-1', { a: 1 }, never)).rejects.toThrow(CognigyUnauthorized);
    expect(contract.answered('sessionVariables')).toEqual([401, 404, 429, 500]);
  });
});
