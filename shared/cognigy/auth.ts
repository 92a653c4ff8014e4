import { errorMessage } from '../errors.js';
import { TokenAnswer } from './contract.js';
import { CognigyRateLimited, CognigyUnauthorized, CognigyUnavailable } from './errors.js';
import { parseRetryAfter } from './retry-after.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** How one call to Cognigy is authorised. */
export interface CognigyAuth {
  /** Headers for the next call (may fetch a token first). */
  headers(): Promise<Record<string, string>>;
  /**
   * The call made with `used` was answered 401. Returns true when fresh credentials can be tried
   * (a new token), false when there is nothing to refresh (a fixed API key).
   */
  invalidate(used: Record<string, string>): boolean;
}

/**
 * A fixed API key on every call: in `X-API-Key` as Cognigy's REST API documents (the default), or
 * in `X-Cognigy-Api-Key` as its runtime API for session variables expects.
 */
export class ApiKeyAuth implements CognigyAuth {
  constructor(
    private readonly apiKey: string,
    private readonly header = 'x-api-key',
  ) {}

  async headers(): Promise<Record<string, string>> {
    return { [this.header]: this.apiKey };
  }

  invalidate(): boolean {
    return false;
  }
}

export interface OAuthSettings {
  baseUrl: string;
  tokenPath: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  /** A cached token is replaced this long before it expires. */
  refreshBeforeMs: number;
  timeoutMs: number;
}

export interface OAuthDeps {
  fetch?: FetchLike;
  now?: () => number;
  /** Called once per token request with how it ended (for metrics). */
  onTokenRequest?: (outcome: 'issued' | 'refused' | 'failed') => void;
}

const ISSUED_TOKEN = TokenAnswer.pick({ access_token: true });

interface Token {
  value: string;
  /** Epoch ms after which the token is not used any more (expiry minus the refresh margin). */
  refreshAt: number;
}

/**
 * OAuth2 client credentials (RFC 6749 4.4): one token serves every batch until shortly before it
 * expires; concurrent callers share one token request; a 401 discards the token once.
 */
export class OAuthClientCredentials implements CognigyAuth {
  private token: Token | undefined;
  private pending: Promise<Token> | undefined;
  private readonly fetch: FetchLike;
  private readonly now: () => number;

  constructor(
    private readonly settings: OAuthSettings,
    private readonly deps: OAuthDeps = {},
  ) {
    this.fetch = deps.fetch ?? ((input, init) => fetch(input, init));
    this.now = deps.now ?? Date.now;
  }

  async headers(): Promise<Record<string, string>> {
    const token = await this.current();
    return { authorization: `Bearer ${token.value}` };
  }

  invalidate(used: Record<string, string>): boolean {
    if (this.token !== undefined && used.authorization === `Bearer ${this.token.value}`) this.token = undefined;
    return true;
  }

  private current(): Promise<Token> {
    const token = this.token;
    if (token !== undefined && this.now() < token.refreshAt) return Promise.resolve(token);
    this.pending ??= this.request().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async request(): Promise<Token> {
    const { baseUrl, tokenPath, clientId, clientSecret, scope, timeoutMs } = this.settings;
    const requestedAt = this.now();
    let response: Response;
    try {
      response = await this.fetch(`${baseUrl}${tokenPath}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope }).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      this.deps.onTokenRequest?.('failed');
      throw new CognigyUnavailable(`token request failed: ${errorMessage(error)}`, undefined, { cause: error });
    }
    const text = await response.text().catch(() => '');
    if (response.ok) {
      const body = parseJson(text);
      // Only the access token is required of the answer: a missing or odd expires_in is read leniently (see refreshAt).
      const answer = ISSUED_TOKEN.safeParse(body);
      if (!answer.success) {
        this.deps.onTokenRequest?.('failed');
        throw new CognigyUnavailable('token endpoint answered without an access_token', response.status);
      }
      this.deps.onTokenRequest?.('issued');
      const token = { value: answer.data.access_token, refreshAt: this.refreshAt(requestedAt, (body as { expires_in?: unknown }).expires_in) };
      this.token = token;
      return token;
    }
    if (response.status === 429) {
      this.deps.onTokenRequest?.('failed');
      throw new CognigyRateLimited(parseRetryAfter(response.headers.get('retry-after'), this.now()));
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 408) {
      this.deps.onTokenRequest?.('refused');
      throw new CognigyUnauthorized(`token endpoint refused the client credentials with ${response.status}: ${text.slice(0, 200)}`);
    }
    this.deps.onTokenRequest?.('failed');
    throw new CognigyUnavailable(`token endpoint answered ${response.status}`, response.status);
  }

  /**
   * Counted from when the token was requested, so network time only shortens its use. A lifetime
   * shorter than twice the margin uses half the lifetime instead, so a short-lived token still
   * serves calls; without `expires_in` the token is used until a 401.
   */
  private refreshAt(requestedAt: number, expiresIn: unknown): number {
    const lifetimeMs = typeof expiresIn === 'number' ? expiresIn * 1_000 : Number(expiresIn) * 1_000;
    if (!Number.isFinite(lifetimeMs) || lifetimeMs <= 0) return Number.POSITIVE_INFINITY;
    const margin = Math.min(this.settings.refreshBeforeMs, lifetimeMs / 2);
    return requestedAt + lifetimeMs - margin;
  }
}

/** The Cognigy variables an OAuth2 client is configured by, as every service and the CLI name them. */
export interface CognigyOAuthEnv {
  COGNIGY_BASE_URL: string;
  COGNIGY_TOKEN_PATH: string;
  COGNIGY_CLIENT_ID: string;
  COGNIGY_CLIENT_SECRET: string;
  COGNIGY_TIMEOUT_MS: number;
  /** Defaults to 30 s where a caller has no such setting. */
  COGNIGY_TOKEN_REFRESH_BEFORE_MS?: number;
}

/** OAuth2 client credentials for `scope`, from the Cognigy variables. */
export function oauthClientOf(c: CognigyOAuthEnv, scope: string, deps: OAuthDeps = {}): OAuthClientCredentials {
  return new OAuthClientCredentials(
    {
      baseUrl: c.COGNIGY_BASE_URL,
      tokenPath: c.COGNIGY_TOKEN_PATH,
      clientId: c.COGNIGY_CLIENT_ID,
      clientSecret: c.COGNIGY_CLIENT_SECRET,
      scope,
      refreshBeforeMs: c.COGNIGY_TOKEN_REFRESH_BEFORE_MS ?? 30_000,
      timeoutMs: c.COGNIGY_TIMEOUT_MS,
    },
    deps,
  );
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
