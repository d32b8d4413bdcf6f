// The authorization server the OAuth tests run against: oauth2-mock-server
// (from the npm registry, pinned by package-lock.json), its issuer on
// 127.0.0.1, its events shaping each test's tokens and introspection
// answers. The tests start it with `node server.mjs` and read its address
// from the first line it prints.
//
//   node server.mjs --client-id ID --client-secret SECRET --audience URI
//
// Tokens: `POST /token` (client_credentials) with form fields the
// beforeTokenSigning hook reads: scope, aud (the default is --audience; a
// JSON array, or "-" for none), sub, client_id, exp_in and nbf_in (seconds
// from now), iss, typ, and claims (a JSON object merged into the claims,
// null deleting one).
// Opaque tokens for introspection are `<state>~<sub>~<scopes joined by +>~<exp_in>`,
// with <state> `on` (active), `off` (inactive) or `elsewhere` (active, for
// another audience). The introspection endpoint demands client_secret_basic.
// Test controls: POST /test/rotate (a new RS256 key, signing from now on),
// POST /test/slow?seconds=N (introspection answers that late), GET
// /test/counts ({"introspections": n, "jwks": n}).

import http from "node:http";
import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const { "client-id": clientId, "client-secret": clientSecret, audience } = args;

const issuer = new OAuth2Issuer();
for (const alg of ["RS256", "ES256", "EdDSA"]) await issuer.keys.generate(alg);
const service = new OAuth2Service(issuer);
const counts = { introspections: 0, jwks: 0 };
let introspectionDelay = 0;
let signingKid;

service.on("beforeTokenSigning", (token, req) => {
  const body = req.body ?? {};
  const now = Math.floor(Date.now() / 1000);
  const payload = token.payload;
  if (body.aud === "-") delete payload.aud;
  else if (typeof body.aud === "string" && body.aud.startsWith("[")) payload.aud = JSON.parse(body.aud);
  else payload.aud = body.aud ?? audience;
  if (body.sub !== undefined) payload.sub = body.sub;
  payload.client_id = body.client_id ?? clientId;
  if (body.exp_in !== undefined) payload.exp = now + Number(body.exp_in);
  if (body.nbf_in !== undefined) payload.nbf = now + Number(body.nbf_in);
  if (body.iss !== undefined) payload.iss = body.iss;
  if (body.typ !== undefined) token.header.typ = body.typ;
  // Raw claims, for the wrong types no client library would write: a JSON
  // object merged in, `null` deleting a claim.
  if (body.claims !== undefined) {
    for (const [name, value] of Object.entries(JSON.parse(body.claims))) {
      if (value === null) delete payload[name];
      else payload[name] = value;
    }
  }
});

service.on("beforeIntrospect", (response, req) => {
  const [state, sub, scopes, expIn] = String(req.body?.token ?? "").split("~");
  if (state !== "on" && state !== "elsewhere") {
    response.body = { active: false };
    return;
  }
  response.body = {
    active: true,
    sub,
    client_id: clientId,
    scope: (scopes ?? "").split("+").join(" "),
    exp: Math.floor(Date.now() / 1000) + Number(expIn ?? 3600),
    iss: issuer.url,
    aud: state === "on" ? audience : "https://elsewhere.example",
    token_type: "Bearer",
  };
});

const readBody = (req) =>
  new Promise((resolve, reject) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });

const json = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer.url);
  if (req.method === "POST" && url.pathname === "/test/rotate") {
    const jwk = await issuer.keys.generate("RS256");
    signingKid = jwk.kid;
    return json(res, 200, { kid: jwk.kid });
  }
  if (req.method === "POST" && url.pathname === "/test/slow") {
    introspectionDelay = Number(url.searchParams.get("seconds") ?? 0) * 1000;
    return json(res, 200, { delay_ms: introspectionDelay });
  }
  if (req.method === "GET" && url.pathname === "/test/counts") return json(res, 200, counts);
  if (req.method === "GET" && url.pathname === "/jwks") counts.jwks += 1;
  if (req.method === "POST" && url.pathname === "/introspect") {
    counts.introspections += 1;
    req.body = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const expected = "Basic " + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");
    if (req.headers.authorization !== expected) return json(res, 401, { error: "invalid_client" });
    if (introspectionDelay > 0) await new Promise((r) => setTimeout(r, introspectionDelay));
  }
  if (req.method === "POST" && url.pathname === "/token" && signingKid !== undefined) {
    // After a rotation every token is signed with the newest key: the store
    // signs with its first key and moves it last, so bring it first.
    for (let i = 0; i < 8 && issuer.keys.toJSON()[0].kid !== signingKid; i += 1) issuer.keys.get();
  }
  service.requestHandler(req, res);
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  issuer.url = `http://127.0.0.1:${port}`;
  console.log(`oauth test server listening on ${issuer.url}`);
});
