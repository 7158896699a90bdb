import type { CombinedError } from 'urql';

/** errorCode returns the first GraphQL extensions.code of an error, if any. */
export function errorCode(error: CombinedError | null | undefined): string | undefined {
  for (const e of error?.graphQLErrors ?? []) {
    const code = e.extensions?.code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** errorMessage is what the user reads: the server's GraphQL messages, or the network failure. */
export function errorMessage(error: CombinedError | Error | null | undefined): string {
  if (!error) return '';
  if ('graphQLErrors' in error && error.graphQLErrors.length > 0) {
    return [...new Set(error.graphQLErrors.map((e) => e.message))].join('; ');
  }
  if ('networkError' in error && error.networkError) return `Cannot reach berth: ${error.networkError.message}`;
  return error.message;
}
