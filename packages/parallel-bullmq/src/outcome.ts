/** An error as stored in Redis: enough to rebuild a useful Error on the other side. */
export interface SerializedStrategyError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
}

/** Capture an error for storage. */
export function serializeError(error: unknown): SerializedStrategyError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(error.stack ? { stack: error.stack } : {}),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

/** Rebuild an Error (same name, message, stack and code) from storage. */
export function deserializeError(stored: SerializedStrategyError): Error {
  const error = new Error(stored.message);
  error.name = stored.name;
  if (stored.stack) error.stack = stored.stack;
  if (stored.code) (error as Error & { code?: string }).code = stored.code;
  return error;
}
