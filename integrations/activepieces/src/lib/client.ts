// A small client for Troupe's HTTP API: bearer key, JSON in and out, problem+json errors
// surfaced with their detail.

export interface TroupeConnection {
  baseUrl: string;
  apiKey: string;
}

export class TroupeError extends Error {
  constructor(
    readonly status: number,
    readonly problem: unknown,
  ) {
    const detail =
      typeof problem === 'object' && problem !== null && 'detail' in problem
        ? String((problem as { detail: unknown }).detail)
        : JSON.stringify(problem);
    super(`Troupe answered ${status}: ${detail}`);
  }
}

/** Sends `body` as JSON, or as it is when `contentType` names another type (a CSV). */
export async function call<T = any>(
  connection: TroupeConnection,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const url = connection.baseUrl.replace(/\/+$/, '') + path;
  const json = contentType === 'application/json';
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${connection.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    body: body === undefined ? undefined : json ? JSON.stringify(body) : String(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new TroupeError(response.status, parsed);
  }
  return parsed as T;
}

/** Polls `path` until `done` holds for its answer or `timeoutSeconds` pass. */
export async function waitFor<T = any>(
  connection: TroupeConnection,
  path: string,
  done: (answer: T) => boolean,
  timeoutSeconds: number,
): Promise<T> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const answer = await call<T>(connection, 'GET', path);
    if (done(answer)) {
      return answer;
    }
    if (Date.now() > deadline) {
      throw new Error(`still not finished after ${timeoutSeconds} s: ${JSON.stringify(answer)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
