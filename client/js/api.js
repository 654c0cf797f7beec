// HTTP protocol module: no DOM code here.
const TOKEN_KEY = "halqa.token";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? "http_error";
    this.fields = body?.error?.fields ?? {};
  }
}

export async function api(path, { method = "GET", body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const getProgram = () => api("/api/program");
export const getSession = (id) => api(`/api/sessions/${encodeURIComponent(id)}`);
export const register = (data) => api("/api/registrations", { method: "POST", body: data });

export function savedToken() {
  return localStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  localStorage.removeItem(TOKEN_KEY);
}

// Personal links carry the token in the URL fragment (never sent to the
// server); take it from there once, keep it, and clean the address bar.
export function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    saveToken(token);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return { token: token ?? savedToken(), session: params.get("session") };
}

// The session to open by default: the live one, else the next, else the first.
export function defaultSession(program, now = new Date()) {
  const sessions = program.sessions;
  return (
    sessions.find((s) => s.live) ??
    sessions.find((s) => new Date(s.ends_at) > now) ??
    sessions[0]
  );
}

// Organizer endpoints (the token is the organizer credential).
export const getLive = (token) => api("/api/live", { token });
export const getCluster = (token) => api("/api/cluster", { token });
export const getReport = (token) => api("/api/report", { token });
export const listInvites = (token) => api("/api/invites", { token });
export const createInvite = (token, body) => api("/api/invites", { method: "POST", body, token });
export const revokeInvite = (token, id) => api(`/api/invites/${id}`, { method: "DELETE", token });

// A CSV export as a Blob (a plain link could not carry the bearer token).
export async function downloadCsv(token, table, lang) {
  const res = await fetch(`/api/report/${table}.csv?lang=${lang}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return res.blob();
}

// Broadcast (organizer): destinations, start/stop/status, recordings.
const sessionPath = (id) => `/api/sessions/${encodeURIComponent(id)}`;
export const getBroadcast = (token, id) => api(`${sessionPath(id)}/broadcast`, { token });
export const broadcastAction = (token, id, action) =>
  api(`${sessionPath(id)}/broadcast`, { method: "POST", body: { action }, token });
export const broadcastOptions = (token, id, body) =>
  api(`${sessionPath(id)}/broadcast`, { method: "PATCH", body, token });
export const listDestinations = (token, id) => api(`${sessionPath(id)}/destinations`, { token });
// `id` null: an event-wide destination (every session).
export const addDestination = (token, id, body) =>
  api(id ? `${sessionPath(id)}/destinations` : "/api/destinations", { method: "POST", body, token });
export const deleteDestination = (token, id, dest) =>
  api(`${id ? `${sessionPath(id)}` : "/api"}/destinations/${encodeURIComponent(dest)}`,
    { method: "DELETE", token });
export const listRecordings = (token, id) => api(`${sessionPath(id)}/recordings`, { token });
export const deleteRecording = (token, url) => api(url, { method: "DELETE", token });

// A recording as a Blob (a plain link could not carry the bearer token).
export async function downloadRecording(token, url) {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return res.blob();
}
