import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { mountOperationalRoutes } from '../../shared/http.js';
import type { Registry } from '../../shared/metrics.js';
import type { DeadLetterRecord } from '../../shared/operations/dlq-filter.js';
import { UsageError } from '../../shared/operations/time-spec.js';
import type { ConsoleAuth } from './auth.js';
import type { DeadLetterIndex } from './dead-letters.js';
import type { EventIndex } from './event-index.js';
import type { FlowSampler } from './flow-sampler.js';
import type { ConsoleOperations } from './operations.js';
import { BadInput, deadLetterQuery, redriveScope, replayScope, replayTarget } from './queries.js';
import type { DeadLetterDetail, EventPath, SessionView } from './views.js';

export interface ConsoleParts {
  auth: ConsoleAuth;
  session: SessionView;
  flow: FlowSampler;
  deadLetters: DeadLetterIndex;
  events: EventIndex;
  operations: ConsoleOperations;
  registry: Registry;
  ready: () => boolean;
  now?: () => number;
}

/** The page's files: beside this module in the sources, found from dist/ as well. */
function publicDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1) {
    for (const candidate of [join(dir, 'public'), join(dir, 'services', 'console', 'public')]) {
      if (existsSync(join(candidate, 'index.html'))) return candidate;
    }
    dir = dirname(dir);
  }
  throw new Error(`services/console/public not found above ${fileURLToPath(import.meta.url)}`);
}

/** Only these files are served without the token: they hold no data. */
const ASSETS: Record<string, string> = { '/console.css': 'console.css', '/console.js': 'console.js', '/login.js': 'login.js' };

const SECURITY_HEADERS = {
  // Scripts and styles from this origin only: no inline code for an injected string to run as.
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

export function createConsoleApp(parts: ConsoleParts): Express {
  const now = parts.now ?? Date.now;
  const dir = publicDir();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.set(SECURITY_HEADERS);
    next();
  });
  mountOperationalRoutes(app, { registry: parts.registry, ready: parts.ready });

  for (const [path, file] of Object.entries(ASSETS)) app.get(path, (_req, res) => res.sendFile(join(dir, file)));
  app.get('/', (req, res) => {
    res.set('Cache-Control', 'no-store');
    if (parts.auth.allows(req)) return res.sendFile(join(dir, 'index.html'));
    res.status(401).sendFile(join(dir, 'login.html'));
  });

  const api = express.Router();
  api.use((req, res, next) => {
    res.set('Cache-Control', 'no-store');
    // A form another site posts cannot be JSON without a CORS preflight, which this server never grants.
    if (req.method === 'POST' && !req.is('application/json')) return void res.status(415).json({ error: 'expected Content-Type: application/json' });
    next();
  });
  api.use(express.json({ limit: '256kb' }));
  api.post('/login', (req, res) => {
    const token = (req.body as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || !parts.auth.tokenMatches(token)) return void res.status(401).json({ error: 'wrong token', field: 'token' });
    parts.auth.setCookie(res, req.secure);
    res.status(204).end();
  });
  api.post('/logout', (_req, res) => {
    res.clearCookie('console_session', { path: '/' });
    res.status(204).end();
  });
  api.use(parts.auth.requireToken);

  api.get('/session', (_req, res) => void res.json(parts.session));
  api.get('/flow', async (_req, res) => void res.json(await parts.flow.view()));

  api.get('/dead-letters', async (req, res) => {
    const { filter, page, pageSize } = deadLetterQuery(req.query as Record<string, unknown>, now());
    const progress = await parts.operations.redriveProgress();
    res.json(parts.deadLetters.page(filter, page, pageSize, progress, now()));
  });
  api.get('/dead-letters/:partition/:offset', async (req, res) => {
    const record = parts.deadLetters.get(Number(req.params.partition), Number(req.params.offset));
    if (record === undefined) return void res.status(404).json({ error: `no dead letter at ${req.params.partition}:${req.params.offset}` });
    const progress = await parts.operations.redriveProgress();
    const detail: DeadLetterDetail = {
      row: parts.deadLetters.row(record, progress, now()),
      headers: record.headers,
      ...(await parts.operations.decode(record)),
    };
    res.json(detail);
  });
  api.post('/dead-letters/redrive', requireActions(parts.session), async (req, res) => {
    const scope = redriveScope(req.body, now());
    const view = await parts.operations.redrive(scope.filter, scope.execute);
    res.status(view.outcome === 'refused' ? 409 : 200).json(view);
  });

  api.get('/batches', (req, res) => {
    const limit = Number(req.query.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) throw new BadInput('expected an integer from 1 to 1000', 'limit');
    res.json(parts.events.recentBatches(limit));
  });
  api.get('/events/:eventId', async (req, res) => {
    const eventId = req.params.eventId;
    const progress = await parts.operations.redriveProgress();
    const deadLetters = parts.deadLetters.ofEvent(eventId).map((r: DeadLetterRecord) => {
      const row = parts.deadLetters.row(r, progress, now());
      return { partition: r.partition, offset: r.offset, at: row.deadLetteredAt, reason: row.reason, redriven: row.redriven };
    });
    const path: EventPath = { ...parts.events.path(eventId), deadLetters };
    res.json({ ...path, found: path.found || deadLetters.length > 0 });
  });

  api.get('/replay/plan', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const scope = replayScope(q, parts.session.groups);
    res.json(await parts.operations.replay(scope, replayTarget(q.to, now()), false));
  });
  api.post('/replay', requireActions(parts.session), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const scope = replayScope(body, parts.session.groups);
    const target = replayTarget(body.to, now());
    if (body.confirmGroup !== scope.group) throw new BadInput('type the group name to confirm the replay', 'confirmGroup');
    const view = await parts.operations.replay(scope, target, true);
    res.status(view.outcome === 'refused' ? 409 : 200).json(view);
  });
  api.use((_req, res) => void res.status(404).json({ error: 'no such route' }));

  app.use('/api', api);
  app.use(errorAnswer);
  return app;
}

function requireActions(session: SessionView) {
  return (_req: Request, res: Response, next: NextFunction) => {
    if (session.actionsAllowed) return next();
    res.status(403).json({ error: 'read-only console: set CONSOLE_ALLOW_ACTIONS=true to redrive or replay from here' });
  };
}

/** Bad input 400 with the field; Kafka out of reach 503 (the page says so and tries again); else 500. */
function errorAnswer(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (error instanceof BadInput) return void res.status(400).json({ error: error.message, field: error.field });
  if (error instanceof UsageError) return void res.status(400).json({ error: error.message });
  if ((error as { type?: string }).type === 'entity.parse.failed') return void res.status(400).json({ error: 'the body is not valid JSON', field: 'body' });
  const name = error instanceof Error ? error.name : '';
  if (name.startsWith('KafkaJS') || name === 'TopicReadTimeout') {
    return void res.status(503).json({ error: `Kafka did not answer: ${(error as Error).message}` });
  }
  res.status(500).json({ error: error instanceof Error ? error.message : 'internal error' });
}
