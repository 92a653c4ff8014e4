import { Header } from '../../shared/headers.js';

/**
 * Where a result's callback stands in its session's own order: the order the ingress wrote the
 * session's callbacks to cognigy.callbacks.v1 (one partition per session, so offsets order them),
 * not the order results arrive in. A retried callback's result can arrive after the result of a
 * newer callback of the same session; its place still says it is older. Pure.
 */
export interface CallbackPlace {
  /** callback-partition / callback-offset headers of the result, when present. */
  partition: number | undefined;
  offset: number | undefined;
  /** received-at header (epoch ms): the order when the offsets cannot be compared. */
  receivedAt: number | undefined;
}

export function placeOf(headers: Record<string, string>): CallbackPlace {
  return {
    partition: wholeNumber(headers[Header.callbackPartition]),
    offset: wholeNumber(headers[Header.callbackOffset]),
    receivedAt: epochMs(headers[Header.receivedAt]),
  };
}

/**
 * Negative when `a` came before `b` in the session, positive after, 0 when it cannot be told or is
 * the same callback. Offsets decide within one partition; otherwise (the partition count changed
 * between the two, or results written before these headers existed) the ingress receipt time does.
 */
export function compareCallbacks(a: CallbackPlace, b: CallbackPlace): number {
  if (a.partition !== undefined && a.partition === b.partition && a.offset !== undefined && b.offset !== undefined) {
    return Math.sign(a.offset - b.offset);
  }
  if (a.receivedAt !== undefined && b.receivedAt !== undefined) return Math.sign(a.receivedAt - b.receivedAt);
  return 0;
}

function wholeNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

function epochMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const at = Date.parse(text);
  return Number.isFinite(at) ? at : undefined;
}
