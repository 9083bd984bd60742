// The gateway's public API, as any other client calls it: Bearer key, JSON or CSV, problem+json on refusal.
const KEY = 'revenueledger.key';

export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function takeKeyFromFragment() {
  // `ledger serve` prints a link carrying the key in the fragment (never sent to a server, never in a log); it is
  // moved to this tab's session storage and removed from the address bar, so a copied link carries no secret.
  const m = /(?:^|[#&])key=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(history.state, '', location.pathname + location.search);
  }
}

export const apiKey = () => sessionStorage.getItem(KEY);
export const setApiKey = (k) => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY));

export function url(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function call(path, params, accept) {
  const headers = { Accept: accept };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(url(path, params), { headers });
  if (!res.ok) {
    let problem = { title: res.statusText };
    try { problem = await res.json(); } catch { /* a body that is not problem+json: keep the status line */ }
    throw new ApiProblem(res.status, problem);
  }
  return res;
}

export const getJson = async (path, params) => (await call(path, params, 'application/json')).json();
export const getCsv = async (path, params) => (await call(path, params, 'text/csv')).text();
