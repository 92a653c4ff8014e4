import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const SESSION_COOKIE = 'console_session';

/**
 * One token opens the page and the API: as `Authorization: Bearer <token>` (scripts) or, after the
 * login form, as a cookie. The cookie holds an HMAC of the token, not the token, so a cookie seen
 * in a browser's storage does not give the token away; changing CONSOLE_TOKEN ends every login.
 */
export class ConsoleAuth {
  private readonly token: Buffer;
  readonly cookieValue: string;

  constructor(token: string) {
    this.token = Buffer.from(token);
    this.cookieValue = createHmac('sha256', token).update('operator console session').digest('base64url');
  }

  tokenMatches(given: string): boolean {
    const candidate = Buffer.from(given);
    // Same length first: timingSafeEqual throws otherwise; the length of a token is no secret.
    return candidate.length === this.token.length && timingSafeEqual(candidate, this.token);
  }

  allows(req: Request): boolean {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      return match !== null && this.tokenMatches(match[1] as string);
    }
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie === undefined) return false;
    const candidate = Buffer.from(cookie);
    const expected = Buffer.from(this.cookieValue);
    return candidate.length === expected.length && timingSafeEqual(candidate, expected);
  }

  /** API routes: 401 without the token. */
  requireToken = (req: Request, res: Response, next: NextFunction): void => {
    if (this.allows(req)) return next();
    res.status(401).set('WWW-Authenticate', 'Bearer realm="console"').json({ error: 'a valid token is required (Authorization: Bearer, or log in)' });
  };

  /** The login cookie: HttpOnly (no script reads it) and SameSite=Strict (no other site sends it). */
  setCookie(res: Response, secure: boolean): void {
    res.cookie(SESSION_COOKIE, this.cookieValue, { httpOnly: true, sameSite: 'strict', secure, path: '/' });
  }
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
