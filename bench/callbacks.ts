/**
 * The callback the benchmarks send: the receiver tutorial's flow execution. Its NLU result sits in
 * context, so the field reader walks past the top level for intent, confidence and text.
 */
export function flowExecution(sessionId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sessionId,
    userId: 'usr-9a8b7c6d-5e4f-3210-9876-543210fedcba',
    message: 'Check order status',
    eventType: 'flow.execution',
    context: { intent: 'order_tracking', confidence: 0.94 },
    timestamp: '2024-01-15T14:32:10Z',
    flowName: 'OrderSupportFlow',
    actionName: 'CheckInventory',
    ...extra,
  };
}
