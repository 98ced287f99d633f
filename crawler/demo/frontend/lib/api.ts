// The API client every page uses: one place for the base URL, credentials and errors.
import axios from "axios";

export const API_BASE = process.env.NEXT_PUBLIC_API_BASE ?? "";

export class ApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function handle<T>(response: Response): Promise<T> {
  if (!response.ok) {
    throw new ApiError(response.status, `${response.status} ${response.statusText}`);
  }
  return (await response.json()) as T;
}

/** GET a path of the API, e.g. apiGet<Plan[]>("/api/billing/plans"). */
export async function apiGet<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${API_BASE}${path}`, { credentials: "include", ...init });
  return handle<T>(response);
}

/** POST JSON to a path of the API. */
export async function apiPost<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(`${API_BASE}${path}`, {
    method: "POST",
    credentials: "include",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return handle<T>(response);
}

/** The signed-in session (NextAuth); {} when signed out. */
export function getSession(): Promise<{ user?: { name: string; orgId: string } }> {
  return apiGet("/api/auth/session");
}

export const http = axios.create({ withCredentials: true });

/** SWR's fetcher. */
export const fetcher = <T>(url: string): Promise<T> => apiGet<T>(url);
