/**
 * Which sources may post callbacks. Pure: addresses in, a verdict out. node's BlockList does the
 * CIDR matching for both families, and matches an IPv4-mapped IPv6 peer (::ffff:10.1.2.3, what a
 * dual-stack listener reports for an IPv4 client) against IPv4 rules.
 */
import { BlockList, isIP } from 'node:net';
import type { Cidr } from '../../shared/config.js';

function blockListOf(cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return list;
}

/** An X-Forwarded-For entry as an address: some proxies append a port (`1.2.3.4:5678`, `[2001:db8::1]:443`). */
function addressOf(entry: string): string | undefined {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  const candidate = bracketed?.[1] ?? /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(text)?.[1] ?? text;
  return isIP(candidate) === 0 ? undefined : candidate;
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 4 ? 'ipv4' : 'ipv6';
}

export class SourcePolicy {
  private readonly allowed: BlockList | undefined;
  private readonly proxies: BlockList | undefined;

  /** No allowed CIDRs: every source may post. */
  constructor(allowed: readonly Cidr[], trustedProxies: readonly Cidr[]) {
    this.allowed = allowed.length > 0 ? blockListOf(allowed) : undefined;
    this.proxies = trustedProxies.length > 0 ? blockListOf(trustedProxies) : undefined;
  }

  get restricted(): boolean {
    return this.allowed !== undefined;
  }

  /**
   * The client a request comes from. X-Forwarded-For is believed only from a trusted proxy, and then
   * read from the right: each trusted proxy appended the address it saw, so the first address that is
   * not a trusted proxy is the client (anything left of it is what the client itself claimed).
   * Undefined when that entry is not an address.
   */
  clientOf(peer: string | undefined, forwardedFor: string | string[] | undefined): string | undefined {
    if (peer === undefined || isIP(peer) === 0) return undefined;
    if (!this.proxies || !forwardedFor || forwardedFor.length === 0 || !this.isProxy(peer)) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client: string | undefined = peer;
    for (let i = hops.length - 1; i >= 0; i -= 1) {
      client = addressOf(hops[i] as string);
      if (client === undefined || !this.isProxy(client)) return client;
    }
    // Every hop is a trusted proxy: the furthest one is as close to the client as can be known.
    return client;
  }

  /** True when the request's client may post; always true without INGRESS_ALLOWED_CIDRS. */
  allows(peer: string | undefined, forwardedFor: string | string[] | undefined): boolean {
    if (!this.allowed) return true;
    const client = this.clientOf(peer, forwardedFor);
    return client !== undefined && this.allowed.check(client, familyOf(client));
  }

  private isProxy(address: string): boolean {
    return this.proxies?.check(address, familyOf(address)) ?? false;
  }
}
