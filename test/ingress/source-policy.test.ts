import { networkInterfaces } from 'node:os';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { IngressEnv } from '../../services/ingress/config.js';
import { SourcePolicy } from '../../services/ingress/source-policy.js';
import { loadConfig, type Cidr } from '../../shared/config.js';
import { exchange, post, serveRecording, webhookRequest, type ServedIngress } from './http-harness.js';

const cidrs = (text: string): Cidr[] => loadConfig(IngressEnv, { COGNIGY_WEBHOOK_SECRETS: 's', INGRESS_ALLOWED_CIDRS: text }).INGRESS_ALLOWED_CIDRS;
const policy = (allowed: string, proxies = '') => new SourcePolicy(cidrs(allowed), cidrs(proxies));

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((parts) => parts.join('.'));

describe('source policy', () => {
  it('lets every source post when no CIDR is configured', () => {
    const open = policy('');
    fc.assert(
      fc.property(ipv4, fc.option(fc.string()), (peer, forwardedFor) => {
        expect(open.allows(peer, forwardedFor ?? undefined)).toBe(true);
      }),
    );
  });

  it('allows exactly the addresses inside a CIDR, IPv4 peers reported as IPv4-mapped IPv6 included', () => {
    fc.assert(
      fc.property(ipv4, fc.integer({ min: 0, max: 32 }), ipv4, (network, prefix, peer) => {
        const toInt = (address: string) => address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
        const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
        const inside = ((toInt(network) & mask) >>> 0) === ((toInt(peer) & mask) >>> 0);
        const allowed = policy(`${network}/${prefix}`);
        expect(allowed.allows(peer, undefined)).toBe(inside);
        expect(allowed.allows(`::ffff:${peer}`, undefined)).toBe(inside);
      }),
    );
  });

  it('matches IPv6 CIDRs', () => {
    const allowed = policy('2001:db8::/32, 10.0.0.0/8');
    expect(allowed.allows('2001:db8:1::7', undefined)).toBe(true);
    expect(allowed.allows('2001:db9::1', undefined)).toBe(false);
    expect(allowed.allows('::1', undefined)).toBe(false);
    expect(allowed.allows(undefined, undefined)).toBe(false);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    const allowed = policy('203.0.113.0/24', '10.0.0.0/8');
    expect(allowed.allows('198.51.100.7', '203.0.113.9')).toBe(false);
    expect(allowed.allows('203.0.113.9', '198.51.100.7')).toBe(true);
  });

  it('behind trusted proxies takes the rightmost X-Forwarded-For address that is not one of them', () => {
    const allowed = policy('203.0.113.0/24', '10.0.0.0/8, ::1');
    expect(allowed.clientOf('10.0.0.2', '203.0.113.9')).toBe('203.0.113.9');
    expect(allowed.clientOf('10.0.0.2', '198.51.100.1, 203.0.113.9, 10.0.0.3')).toBe('203.0.113.9');
    // A client that writes an allowed address into the header itself is still itself, the rightmost untrusted hop.
    expect(allowed.allows('10.0.0.2', '203.0.113.9, 198.51.100.1')).toBe(false);
    expect(allowed.allows('::ffff:10.0.0.2', '203.0.113.9:4711')).toBe(true);
    expect(allowed.allows('::1', '[2001:db8::1]:443, 203.0.113.5')).toBe(true);
    expect(allowed.allows('10.0.0.2', ['198.51.100.1', '203.0.113.9'])).toBe(true);
    // Every hop a trusted proxy: the furthest is as close to the client as can be known.
    expect(allowed.clientOf('10.0.0.2', '10.0.0.9, 10.0.0.3')).toBe('10.0.0.9');
    expect(allowed.allows('10.0.0.2', 'not-an-address')).toBe(false);
    expect(allowed.allows('10.0.0.2', '')).toBe(false);
  });

  it('whatever a client writes into X-Forwarded-For, it cannot pass as a source it is not', () => {
    const allowed = policy('203.0.113.0/24', '10.0.0.0/8');
    fc.assert(
      fc.property(fc.array(fc.oneof(ipv4, fc.string()), { maxLength: 6 }), ipv4, (claimed, client) => {
        fc.pre(!client.startsWith('203.0.113.') && !client.startsWith('10.'));
        // The client talks to a trusted proxy, which appends the client's address.
        expect(allowed.allows('10.1.2.3', [...claimed, client].join(', '))).toBe(false);
      }),
    );
  });
});

describe('INGRESS_ALLOWED_CIDRS and INGRESS_TRUSTED_PROXIES', () => {
  it('stop the start with one line naming the variable and the entry at fault', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'localhost', '2001:db8::/129', '10.0.0.0/8/1', '10.0.0.0/ 8', '10.0.0.0/-1']) {
      expect(() => cidrs(bad), bad).toThrow(/^INGRESS_ALLOWED_CIDRS: expected IPv4 or IPv6 CIDRs such as 10\.0\.0\.0\/8,2001:db8::\/32, got "/);
      expect(() => cidrs(bad), bad).toThrow(`got "${bad}"`);
    }
    expect(() => loadConfig(IngressEnv, { COGNIGY_WEBHOOK_SECRETS: 's', INGRESS_TRUSTED_PROXIES: '10.0.0.1/8,nope' })).toThrow(/^INGRESS_TRUSTED_PROXIES: .*got "nope"$/);
    expect(cidrs(' 10.0.0.0/8 , 192.0.2.1,::1 ')).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '192.0.2.1', prefix: 32, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
  });
});

describe('the allowlist over HTTP', () => {
  let ingress: ServedIngress | undefined;
  afterEach(async () => {
    await ingress?.close();
    ingress = undefined;
  });
  const body = () => JSON.stringify({ sessionId: 'source', nonce: Math.random() });

  it('answers 403 to a source outside the list before reading the body, and writes nothing', async () => {
    ingress = await serveRecording({ INGRESS_ALLOWED_CIDRS: '192.0.2.0/24' });
    // The body is promised but never sent: an answer at all shows none of it was waited for.
    const { bytes } = webhookRequest('', { 'content-length': '100000' });
    const answer = await exchange(ingress.port, { bytes, deadlineMs: 2_000 });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({ error: 'forbidden' });
    expect((await post(ingress.port, body())).status).toBe(403);
    expect(ingress.produced).toHaveLength(0);
    expect(await ingress.registry.getSingleMetricAsString('ingress_requests_total')).toMatch(/outcome="forbidden"[^}]*\} 2$/m);
    // Load balancers probe the public port from wherever they are.
    expect((await fetch(`${ingress.url}/healthz`)).status).toBe(200);
  });

  it('takes a source inside the list, and the client named by a trusted proxy', async () => {
    ingress = await serveRecording({ INGRESS_ALLOWED_CIDRS: '127.0.0.0/8' });
    expect((await post(ingress.port, body())).status).toBe(202);
    await ingress.close();

    ingress = await serveRecording({ INGRESS_ALLOWED_CIDRS: '203.0.113.0/24', INGRESS_TRUSTED_PROXIES: '127.0.0.1' });
    expect((await post(ingress.port, body(), { 'x-forwarded-for': '203.0.113.9' })).status).toBe(202);
    expect((await post(ingress.port, body(), { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' })).status).toBe(403);
    expect((await post(ingress.port, body())).status).toBe(403);
    expect(ingress.produced).toHaveLength(1);
  });

  const hasIpv6Loopback = Object.values(networkInterfaces()).some((addresses) => addresses?.some((a) => a.family === 'IPv6' && a.internal));

  it.skipIf(!hasIpv6Loopback)('matches an IPv4 client of a dual-stack listener (::ffff:127.0.0.1) against IPv4 rules', async () => {
    ingress = await serveRecording({ INGRESS_HOST: '::', INGRESS_ALLOWED_CIDRS: '127.0.0.0/8' });
    expect((await post(ingress.port, body())).status).toBe(202);
    await ingress.close();
    ingress = await serveRecording({ INGRESS_HOST: '::', INGRESS_ALLOWED_CIDRS: '10.0.0.0/8' });
    expect((await post(ingress.port, body())).status).toBe(403);
  });
});
