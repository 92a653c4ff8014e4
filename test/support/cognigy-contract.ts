/**
 * Holds HTTP traffic to the Cognigy contract (shared/cognigy/contract.ts): a request a client sent
 * (method, path, headers, body) and an answer Cognigy's stand-in gave (status, headers, body), each
 * reduced to a list of violations naming the field at fault, e.g.
 * `POST /api/v1/webhooks/batch-acknowledge: Idempotency-Key: header required`.
 * `ContractCheck.wrap` puts the checks around a fetch, so every exchange through it is checked.
 */
import { expect } from 'vitest';
import type { FetchLike } from '../../shared/cognigy/auth.js';
import { COGNIGY_CONTRACT, headerName, requestIssues, type EndpointContract, type EndpointName } from '../../shared/cognigy/contract.js';

export interface CapturedRequest {
  method: string;
  /** Absolute, or a path with its query. */
  url: string;
  headers: Record<string, string>;
  /** The body as sent: JSON or form text; undefined when none was. */
  body?: string;
}

export interface CapturedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const BASE = 'http://cognigy.invalid';

/** The endpoint of the contract a call is for, by method and path. */
export function endpointOf(method: string, url: string): { name: EndpointName; endpoint: EndpointContract } | undefined {
  const { pathname } = new URL(url, BASE);
  for (const [name, endpoint] of Object.entries(COGNIGY_CONTRACT) as [EndpointName, EndpointContract][]) {
    if (endpoint.method === method.toUpperCase() && matchesTemplate(endpoint.path, pathname)) return { name, endpoint };
  }
  return undefined;
}

/** Each `{name}` of the template stands for exactly one non-empty path segment. */
function matchesTemplate(template: string, pathname: string): boolean {
  const want = template.split('/');
  const got = pathname.split('/');
  return want.length === got.length && want.every((segment, i) => (/^\{\w+\}$/.test(segment) ? got[i] !== '' : segment === got[i]));
}

/** What in `request` breaks the contract; empty when it conforms. */
export function requestViolations(request: CapturedRequest): string[] {
  const where = `${request.method.toUpperCase()} ${new URL(request.url, BASE).pathname}`;
  const found = endpointOf(request.method, request.url);
  if (found === undefined) return [`${where}: no endpoint of the Cognigy contract`];
  const body = decodeBody(found.endpoint.encoding, request.body);
  if ('unreadable' in body) return [`${where}: body: ${body.unreadable}`];
  const query = Object.fromEntries(new URL(request.url, BASE).searchParams);
  const issues = requestIssues(found.endpoint.request, { headers: lowerCaseKeys(request.headers), query, body: body.value });
  return issues.map((issue) => `${where}: ${issue.path || 'body'}: ${issue.message}`);
}

/** What in the answer to `request` breaks the contract; empty when it conforms. */
export function answerViolations(request: Pick<CapturedRequest, 'method' | 'url'>, answer: CapturedAnswer): string[] {
  const where = `${request.method.toUpperCase()} ${new URL(request.url, BASE).pathname} answered ${answer.status}`;
  const found = endpointOf(request.method, request.url);
  if (found === undefined) return [`${where}: no endpoint of the Cognigy contract`];
  const documented = found.endpoint.answers[answer.status];
  if (documented === undefined) {
    return [`${where}: status ${answer.status} is not in the contract (documented: ${Object.keys(found.endpoint.answers).join(', ')})`];
  }
  const violations: string[] = [];
  const headers = documented.headers.safeParse(lowerCaseKeys(answer.headers));
  for (const issue of headers.error?.issues ?? []) violations.push(`${where}: ${headerName(String(issue.path[0] ?? ''))}: ${issue.message}`);
  const body = decodeBody('json', answer.body === '' ? undefined : answer.body);
  if ('unreadable' in body) return [...violations, `${where}: body: ${body.unreadable}`];
  const parsed = documented.body.safeParse(body.value);
  for (const issue of parsed.error?.issues ?? []) violations.push(`${where}: ${issue.path.join('.') || 'body'}: ${issue.message}`);
  return violations;
}

export interface Exchange {
  endpoint: EndpointName | undefined;
  request: CapturedRequest;
  /** undefined when no answer came (connection reset). */
  status: number | undefined;
}

/**
 * Checks every exchange through the fetches it wraps, against the contract: the requests, the
 * answers, or both. Calls to the simulator's own `/admin/` endpoints pass unchecked.
 */
export class ContractCheck {
  readonly exchanges: Exchange[] = [];
  private violations: string[] = [];

  constructor(private readonly check: { requests?: boolean; answers?: boolean }) {}

  wrap(inner: FetchLike = (input, init) => fetch(input, init)): FetchLike {
    return async (input: string, init: RequestInit = {}) => {
      const request = capture(input, init);
      if (new URL(input, BASE).pathname.startsWith('/admin/')) return inner(input, init);
      const exchange: Exchange = { endpoint: endpointOf(request.method, input)?.name, request, status: undefined };
      this.exchanges.push(exchange);
      if (this.check.requests) this.violations.push(...requestViolations(request));
      const response = await inner(input, init);
      exchange.status = response.status;
      if (this.check.answers) {
        const answer = { status: response.status, headers: Object.fromEntries(response.headers.entries()), body: await response.clone().text() };
        this.violations.push(...answerViolations(request, answer));
      }
      return response;
    };
  }

  /** The statuses answered by `endpoint` (and so checked) since the last `clear`, each once, in order. */
  answered(endpoint: EndpointName): number[] {
    const statuses = this.exchanges.filter((e) => e.endpoint === endpoint && e.status !== undefined).map((e) => e.status as number);
    return [...new Set(statuses)].sort((a, b) => a - b);
  }

  /** The violations found since the last `clear`. */
  found(): string[] {
    return [...this.violations];
  }

  /** Fails the current test with the violations found since the last `clear`, after clearing, so none carries over to the next test. */
  verify(): void {
    const found = this.found();
    this.clear();
    expect(found, 'exchanges that break the Cognigy contract').toEqual([]);
  }

  clear(): void {
    this.exchanges.length = 0;
    this.violations = [];
  }
}

function capture(url: string, init: RequestInit): CapturedRequest {
  const body = init.body;
  return {
    method: (init.method ?? 'GET').toUpperCase(),
    url,
    headers: Object.fromEntries(new Headers(init.headers).entries()),
    body: typeof body === 'string' ? body : body instanceof URLSearchParams ? body.toString() : body == null ? undefined : '[unreadable body]',
  };
}

function decodeBody(encoding: EndpointContract['encoding'], text: string | undefined): { value: unknown } | { unreadable: string } {
  if (text === undefined) return { value: undefined };
  if (encoding === 'form') return { value: Object.fromEntries(new URLSearchParams(text)) };
  if (encoding === 'none') return { value: text };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { unreadable: 'not JSON' };
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
