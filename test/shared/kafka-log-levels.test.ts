/**
 * kafkajs writes routine start-up and restart retries at error level; the services write them at
 * info, and keep error for what kafkajs does not recover from on its own.
 */
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaLineLevels } from '../../shared/kafka.js';

const { logLevel } = kafkajs;
const GROUP = 'cognigy-fulfillment.dedup-reader.1';

describe('kafkajs log lines', () => {
  it('are info for a retriable error response', () => {
    const levelOf = kafkaLineLevels();
    const line = {
      message: '[Connection] Response JoinGroup(key: 11, version: 5)',
      error: "The coordinator is loading and hence can't process requests for this group",
    };
    expect(levelOf(logLevel.ERROR, line)).toBe('info');
    expect(levelOf(logLevel.ERROR, { ...line, error: 'Not authorized to access topics: [Topic authorization failed]' })).toBe('error');
  });

  it('are info for a consumer crash on a retriable response and the restart that follows it', () => {
    const levelOf = kafkaLineLevels();
    const crash = {
      message: "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group",
      groupId: GROUP,
    };
    expect(levelOf(logLevel.ERROR, crash)).toBe('info');
    expect(levelOf(logLevel.ERROR, { message: 'Restarting the consumer in 100ms', groupId: GROUP, retryTime: 100 })).toBe('info');
  });

  it('are info for a crash on a group coordinator not found, which the services start again themselves', () => {
    const levelOf = kafkaLineLevels();
    expect(levelOf(logLevel.ERROR, { message: 'Crash: KafkaJSGroupCoordinatorNotFound: Failed to find group coordinator', groupId: GROUP })).toBe('info');
  });

  it('keep a crash on anything else at error and its restart at warn', () => {
    const levelOf = kafkaLineLevels();
    expect(levelOf(logLevel.ERROR, { message: 'Crash: KafkaJSNumberOfRetriesExceeded: Connection timeout', groupId: GROUP })).toBe('error');
    expect(levelOf(logLevel.ERROR, { message: 'Restarting the consumer in 300ms', groupId: GROUP })).toBe('warn');
    expect(
      levelOf(logLevel.ERROR, { message: 'Crash: KafkaJSProtocolError: Not authorized to access group: Group authorization failed', groupId: GROUP }),
    ).toBe('error');
  });

  it('tell one group crash from another', () => {
    const levelOf = kafkaLineLevels();
    levelOf(logLevel.ERROR, { message: 'Crash: KafkaJSProtocolError: The group coordinator is not available', groupId: 'a' });
    levelOf(logLevel.ERROR, { message: 'Crash: KafkaJSNonRetriableError: Offset out of range', groupId: 'b' });
    expect(levelOf(logLevel.ERROR, { message: 'Restarting the consumer in 100ms', groupId: 'b' })).toBe('warn');
    expect(levelOf(logLevel.ERROR, { message: 'Restarting the consumer in 100ms', groupId: 'a' })).toBe('info');
  });

  it('keep the levels kafkajs chose for everything else', () => {
    const levelOf = kafkaLineLevels();
    expect(levelOf(logLevel.WARN, { message: 'Limiting retries for the idempotent producer may invalidate EoS guarantees' })).toBe('info');
    expect(levelOf(logLevel.WARN, { message: 'something new' })).toBe('warn');
    expect(levelOf(logLevel.INFO, { message: 'Consumer has joined the group' })).toBe('info');
    expect(levelOf(logLevel.DEBUG, { message: 'Request Fetch' })).toBe('debug');
  });
});
