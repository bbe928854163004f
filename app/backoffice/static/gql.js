// The dashboard's only way to the server: the public GraphQL API over HTTP and, for live
// updates, graphql-transport-ws (the vendored graphql-ws client). Nothing here knows about
// pages; admin.js does.
"use strict";

const PMS = (() => {
  const TOKEN_KEY = "pms.admin.token";
  const endpoint = new URL("/graphql", window.location.href);
  const wsEndpoint = new URL(endpoint);
  wsEndpoint.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  // The access token lives for the tab only (sessionStorage): closing it signs out.
  let token = sessionStorage.getItem(TOKEN_KEY);
  let socket = null;
  const onSignedOut = [];

  class RequestFailed extends Error {
    constructor(errors) {
      super(errors.map((e) => e.message).join("; "));
      this.errors = errors;
    }
  }

  // Both halves of a GraphQL answer: `data` may be partial when the caller's role may not
  // read some fields (those come back as errors with a path; the page says "not permitted").
  async function request(query, variables = {}) {
    const headers = {"content-type": "application/json",
                     accept: "application/graphql-response+json, application/json"};
    if (token) headers.authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(endpoint, {method: "POST", headers, body: JSON.stringify({query, variables})});
    } catch (err) {
      throw new RequestFailed([{message: `server unreachable (${err.message})`}]);
    }
    const body = await response.json().catch(() => ({errors: [{message: `HTTP ${response.status}`}]}));
    if (response.status === 401 || (body.errors || []).some(isUnauthenticated)) {
      signOut();
      throw new RequestFailed([{message: "signed out: sign in again"}]);
    }
    return {data: body.data || null, errors: body.errors || []};
  }

  function isUnauthenticated(error) {
    const code = (error.extensions || {}).code;
    return code === "UNAUTHENTICATED" || code === "TOKEN_EXPIRED";
  }

  // Whole answers only: any error is thrown.
  async function query(text, variables = {}) {
    const {data, errors} = await request(text, variables);
    if (errors.length) throw new RequestFailed(errors);
    return data;
  }

  function live() {
    if (!socket) {
      socket = graphqlWs.createClient({
        url: wsEndpoint.toString(),
        connectionParams: () => ({authorization: `Bearer ${token}`}),
        lazy: true,
        retryAttempts: Infinity,
        shouldRetry: () => token !== null,
        on: {
          connected: () => setLiveStatus("live"),
          closed: () => setLiveStatus(token ? "reconnecting" : "offline"),
        },
      });
    }
    return socket;
  }

  function setLiveStatus(text) {
    const el = document.getElementById("live-status");
    if (el) {
      el.textContent = text;
      el.dataset.state = text;
    }
  }

  // Calls onData(data) for every event; returns the unsubscribe function.
  function subscribe(text, variables, onData, onError) {
    return live().subscribe({query: text, variables}, {
      next: (result) => (result.errors ? onError(new RequestFailed(result.errors)) : onData(result.data)),
      error: (err) => onError(err instanceof Error ? err : new RequestFailed([{message: String(err.reason || err)}])),
      complete: () => {},
    });
  }

  function signIn(accessToken) {
    token = accessToken;
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  // notify=false: forget the token without the signed-out handlers (the page reload).
  function signOut(notify = true) {
    const had = notify && token !== null;
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    if (socket) {
      socket.dispose();
      socket = null;
    }
    setLiveStatus("offline");
    if (had) onSignedOut.forEach((fn) => fn());
  }

  return {
    request, query, subscribe, signIn, signOut, RequestFailed,
    get signedIn() { return token !== null; },
    onSignedOut: (fn) => onSignedOut.push(fn),
  };
})();
