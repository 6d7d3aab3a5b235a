// The public REST API, called as the signed-in user (the same API every client uses).
import { currentLanguage } from "./i18n.js";

const TOKEN_KEY = "crm.console.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  // errors[].field -> message, as the API names the fields
  get fieldErrors() {
    const found = {};
    for (const error of this.problem.errors || []) {
      if (error.field && !(error.field in found)) found[error.field] = error.message;
    }
    return found;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
  },
  me: null,
};

function queryString(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") params.append(name, value);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export async function api(path, { method = "GET", query, body, headers = {} } = {}) {
  const sent = { Accept: "application/json", "Accept-Language": currentLanguage(), ...headers };
  if (session.token) sent.Authorization = `Bearer ${session.token}`;
  let payload;
  if (body instanceof URLSearchParams || body instanceof FormData) payload = body; // the browser sets their type
  else if (body !== undefined) { payload = JSON.stringify(body); sent["Content-Type"] = "application/json"; }
  let response;
  try {
    response = await fetch(`/api/v1/${path}${queryString(query)}`, { method, headers: sent, body: payload });
  } catch (err) {
    throw new ApiError(0, { title: "Network error", detail: String(err) });
  }
  if (response.status === 401 && session.token && path !== "auth/token") {
    session.token = null;
    window.dispatchEvent(new CustomEvent("crm:signed-out"));
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
  return data;
}

export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  const answer = await api("auth/token", { method: "POST", body: form });
  session.token = answer.access_token;
  session.me = await api("auth/me");
  return session.me;
}

export function signOut() {
  session.token = null;
  session.me = null;
}

// A key per attempt to create something: a network retry of the same attempt is not a second record.
export function idempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// Every page of a list, up to `max` items (boards and pickers that need the whole set in scope).
export async function allPages(path, query = {}, max = 500) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, limit: 100, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
