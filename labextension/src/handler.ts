import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A failed API call: the HTTP status and the server's one-line message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The whole error answer (an ErrorJson), e.g. its `host_key`. */
    readonly body: unknown = undefined
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Query parameters; a list repeats its name (`run=a&run=b`). */
export type QueryParams = Record<string, string | number | undefined | string[]>;

/** The URL of an API route, e.g. for download links (cookies authenticate a plain GET). */
export function apiUrl(
  endPoint: string,
  params: QueryParams = {}
): string {
  const settings = ServerConnection.makeSettings();
  const query = Object.entries(params)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map(item => [k, item] as const))
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const url = URLExt.join(settings.baseUrl, 'aml', 'api', endPoint);
  return query ? `${url}?${query}` : url;
}

/**
 * Call the aml_magic REST API. Jupyter's ServerConnection adds the token and the XSRF
 * header; any non-2xx answer becomes an ApiError carrying the server's message.
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  params: QueryParams = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(apiUrl(endPoint, params), init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data === 'object' && 'message' in data
        ? String((data as { message: unknown }).message)
        : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, data);
  }
  return data as T;
}
