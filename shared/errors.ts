/**
 * Every failure the pipeline handles carries whether trying again can help. The mapping from
 * error to HTTP status, retry topic or DLQ reads this flag and nothing else.
 */
export abstract class PipelineError extends Error {
  abstract readonly retriable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class RetriableError extends PipelineError {
  readonly retriable = true;
}

export class NonRetriableError extends PipelineError {
  readonly retriable = false;
}

export function isRetriable(error: unknown): boolean {
  return error instanceof PipelineError ? error.retriable : false;
}

export function errorClass(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
