// An external relying party against a running Skybridge: every protocol step is done by openid-client (the
// certified OpenID Connect library), the sign-in pages are driven with plain HTTP like a browser would.
//
// Inputs (environment):
//   SKYBRIDGE_URL              the issuer, e.g. http://127.0.0.1:8080 (plain http is allowed for this check)
//   CLIENT_ID                  a registered client with the authorization_code and refresh_token grants
//   CLIENT_SECRET              its secret; absent for a public client (then PKCE alone protects the code)
//   REDIRECT_URI               one of the client's redirect URIs (never fetched)
//   POST_LOGOUT_REDIRECT_URI   one of the client's post-logout redirect URIs (never fetched)
//   USER_EMAIL, USER_PASSWORD  a user of the client's account, signing in with a password (no second factor)
//   ID_TOKEN_ALG               optional: the client's id_token_signed_response_alg (default RS256)
//   CLIENT_AUTH                optional for a confidential client: client_secret_basic (default) or
//                              client_secret_post
//
// Prints a JSON summary of the steps and exits 0, or says which step failed and why and exits 1.

import * as client from 'openid-client';

const LOGIN_PATH = '/auth/login';
const ACCOUNT_PATH = '/auth/account';
const MAX_HOPS = 12;

class CheckFailed extends Error {
  name = 'CheckFailed';
}

function fail(message) {
  throw new CheckFailed(message);
}

function check(condition, message) {
  if (!condition) fail(message);
}

function env(name, { optional = false } = {}) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (optional) return undefined;
    fail(`environment variable ${name} is required`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// A tiny browser: cookies by name (one host), redirects not followed so that each hop can be looked at.

class Browser {
  constructor() {
    this.cookies = new Map();
    this.trail = [];
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(url, { method = 'GET', form, cookieOverride } = {}) {
    const headers = { accept: 'text/html,application/json' };
    const cookie = cookieOverride ?? this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const resp = await fetch(url, { method, headers, body, redirect: 'manual' });
    for (const line of resp.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const maxAge = attrs.map((a) => a.trim()).find((a) => /^max-age=/i.test(a));
      const expired = (maxAge && Number(maxAge.split('=')[1]) <= 0) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = resp.headers.get('location');
    const text = await resp.text();
    const u = new URL(url);
    this.trail.push(`${method} ${u.pathname} -> ${resp.status}`);
    return {
      status: resp.status,
      location: location === null ? null : new URL(location, url).href,
      headers: resp.headers,
      text,
    };
  }
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };

function unescapeHtml(s) {
  return s.replace(/&(amp|lt|gt|quot|apos|#39);/g, (_, e) => ENTITIES[e]);
}

/// The fields of the page's sign-in form: its inputs with their values (hidden ones carry the state).
function loginForm(html) {
  const form = html.match(/<form\b[^>]*action="\/auth\/login"[^>]*>([\s\S]*?)<\/form>/);
  if (!form) return null;
  const fields = {};
  for (const input of form[1].matchAll(/<input\b[^>]*>/g)) {
    const attrs = {};
    for (const a of input[0].matchAll(/([a-zA-Z_:-]+)="([^"]*)"/g)) attrs[a[1]] = unescapeHtml(a[2]);
    if (attrs.name) fields[attrs.name] = { type: attrs.type ?? 'text', value: attrs.value ?? '' };
  }
  return fields;
}

function alertText(html) {
  const m = html.match(/role="alert"[^>]*>([\s\S]*?)</);
  return m ? unescapeHtml(m[1]).trim() : null;
}

/// Opens `start` and goes wherever the server sends the browser, filling in the sign-in form on the way,
/// until the server redirects to the client's redirect URI. Returns that URL and the pages seen.
async function signInThrough(browser, start, redirectUri, user) {
  let url = start.href;
  let method = 'GET';
  let form;
  const pages = [];
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const r = await browser.request(url, { method, form });
    if (r.status >= 300 && r.status < 400) {
      check(r.location, `${method} ${url} answered ${r.status} without a Location header`);
      if (r.location.startsWith(redirectUri)) return { callback: new URL(r.location), pages };
      url = r.location;
      method = 'GET';
      form = undefined;
      continue;
    }
    const fields = r.status === 200 ? loginForm(r.text) : null;
    if (!fields) {
      const why = alertText(r.text) ?? r.text.slice(0, 500);
      fail(`${method} ${url} answered ${r.status}, not a redirect nor a sign-in form: ${why}`);
    }
    check(fields.csrf?.value, `the sign-in form at ${url} has no csrf field`);
    check(
      browser.cookies.get('sb_csrf') === fields.csrf.value,
      'the sign-in form\'s csrf field differs from the sb_csrf cookie (double-submit)',
    );
    const step = fields.step?.value;
    form = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.value]));
    if (step === 'identify' && !('email' in form && fields.email.type === 'hidden')) {
      form.email = user.email;
    } else if (step === 'password') {
      check(fields.password?.type === 'password', 'the password step has no password input');
      form.password = user.password;
    } else {
      fail(`unexpected sign-in step ${JSON.stringify(step)} at ${url} (a second factor or an account number?)`);
    }
    pages.push(step);
    url = new URL(LOGIN_PATH, url).href;
    method = 'POST';
  }
  fail(`no redirect to ${redirectUri} after ${MAX_HOPS} hops: ${browser.trail.join(', ')}`);
}

/// Runs `fn`, which must fail with an OAuth error response `code` from openid-client.
async function expectOAuthError(what, code, fn) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof client.ResponseBodyError) {
      check(
        e.error === code,
        `${what}: expected error ${code}, got ${e.error} (${e.error_description ?? 'no description'})`,
      );
      return { status: e.status, error: e.error, error_description: e.error_description };
    }
    if (e instanceof client.WWWAuthenticateChallengeError) {
      // openid-client reports any WWW-Authenticate challenge on an error instead of the body's error code.
      const body = await e.response?.text().catch(() => '');
      fail(
        `${what}: expected an error response with error=${code}, but the ${e.status} carried ` +
          `"WWW-Authenticate: ${e.response?.headers.get('www-authenticate')}", so openid-client threw ` +
          `WWWAuthenticateChallengeError ("${e.message}") and the relying party never sees the error code ` +
          `(body: ${body})`,
      );
    }
    throw e;
  }
  fail(`${what}: succeeded, but it had to be refused with ${code}`);
}

/// Runs `fn`, which must fail with a Bearer WWW-Authenticate challenge (RFC 6750 §3) naming `code`.
async function expectBearerChallenge(what, code, fn) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof client.WWWAuthenticateChallengeError) {
      const bearer = e.cause.find((c) => c.scheme === 'bearer');
      check(bearer, `${what}: the challenge names no Bearer scheme: ${JSON.stringify(e.cause)}`);
      check(
        bearer.parameters.error === code,
        `${what}: expected error="${code}" in the challenge, got ${JSON.stringify(bearer.parameters)}`,
      );
      return { status: e.status, challenge: bearer };
    }
    throw e;
  }
  fail(`${what}: succeeded, but it had to be refused with a Bearer ${code} challenge`);
}

function decodeJwtPart(jwt, i) {
  return JSON.parse(Buffer.from(jwt.split('.')[i], 'base64url').toString('utf8'));
}

// ---------------------------------------------------------------------------------------------------------

async function main() {
  const summary = { client: undefined, steps: [] };
  // A step that later steps build on stops the run when it fails; a `standalone` one (a refusal check) is
  // recorded as failed and the run goes on, so that one run reports every such problem.
  const step = async (name, fn, { standalone = false } = {}) => {
    current = name;
    try {
      const detail = await fn();
      summary.steps.push({ step: name, ok: true, ...(detail ? { detail } : {}) });
    } catch (e) {
      if (!standalone) throw e;
      summary.steps.push({ step: name, ok: false, error: describe(e) });
    }
  };

  const base = env('SKYBRIDGE_URL').replace(/\/+$/, '');
  const clientId = env('CLIENT_ID');
  const clientSecret = env('CLIENT_SECRET', { optional: true });
  const redirectUri = env('REDIRECT_URI');
  const postLogout = env('POST_LOGOUT_REDIRECT_URI');
  const user = { email: env('USER_EMAIL'), password: env('USER_PASSWORD') };
  const idTokenAlg = env('ID_TOKEN_ALG', { optional: true }) ?? 'RS256';
  const authMethod = clientSecret ? (env('CLIENT_AUTH', { optional: true }) ?? 'client_secret_basic') : 'none';
  const confidential = clientSecret !== undefined;
  check(
    ['none', 'client_secret_basic', 'client_secret_post'].includes(authMethod),
    `CLIENT_AUTH must be client_secret_basic or client_secret_post, not ${authMethod}`,
  );
  summary.client = { client_id: clientId, type: confidential ? 'confidential' : 'public', token_endpoint_auth_method: authMethod, id_token_signed_response_alg: idTokenAlg };

  const browser = new Browser();
  const scope = 'openid profile email offline_access';
  let config;

  await step('discovery', async () => {
    const auth = !confidential
      ? client.None()
      : authMethod === 'client_secret_post'
        ? client.ClientSecretPost(clientSecret)
        : client.ClientSecretBasic(clientSecret);
    config = await client.discovery(
      new URL(base),
      clientId,
      { id_token_signed_response_alg: idTokenAlg },
      auth,
      { execute: [client.allowInsecureRequests] },
    );
    const md = config.serverMetadata();
    check(md.issuer === base, `issuer ${md.issuer} is not ${base}`);
    check(md.supportsPKCE('S256'), 'code_challenge_methods_supported does not list S256');
    for (const f of ['end_session_endpoint', 'revocation_endpoint', 'userinfo_endpoint', 'jwks_uri']) {
      check(md[f], `the discovery document has no ${f}`);
    }
    check(
      md.authorization_response_iss_parameter_supported === true,
      'authorization_response_iss_parameter_supported is not true',
    );
    check(
      md.id_token_signing_alg_values_supported?.includes(idTokenAlg),
      `id_token_signing_alg_values_supported does not list ${idTokenAlg}`,
    );
    return { issuer: md.issuer };
  });

  /// One authorization code flow with PKCE, state and nonce; the ID token is checked by openid-client.
  const authorize = async (expectLoginPages) => {
    const codeVerifier = client.randomPKCECodeVerifier();
    const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const { callback, pages } = await signInThrough(browser, url, redirectUri, user);
    if (expectLoginPages) {
      check(
        pages.join(',') === 'identify,password',
        `expected the identify and password pages, went through [${pages.join(', ')}]`,
      );
      check(browser.cookies.has('sb_session'), 'signing in set no sb_session cookie');
    } else {
      check(pages.length === 0, `the session should have been reused, but the sign-in pages came: [${pages.join(', ')}]`);
    }
    check(callback.searchParams.get('iss') === base, `the authorization response's iss is ${callback.searchParams.get('iss')}`);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    return { tokens, pages };
  };

  let first;
  let claims;
  await step('authorization code flow with PKCE (sign-in through the portal)', async () => {
    const { tokens, pages } = await authorize(true);
    first = tokens;
    check(tokens.access_token, 'no access_token');
    check(tokens.token_type === 'bearer', `token_type is ${tokens.token_type}`);
    check(tokens.refresh_token, 'no refresh_token');
    check(tokens.id_token, 'no id_token');
    check(typeof tokens.expiresIn() === 'number' && tokens.expiresIn() > 0, 'expires_in missing or not positive');
    const header = decodeJwtPart(tokens.id_token, 0);
    check(header.alg === idTokenAlg, `the ID token is signed with ${header.alg}, not ${idTokenAlg}`);
    claims = tokens.claims();
    for (const c of ['sub', 'email', 'account_id', 'role', 'sid', 'auth_time']) {
      check(claims[c] !== undefined && claims[c] !== '', `the ID token has no ${c} claim`);
    }
    check(claims.email.toLowerCase() === user.email.toLowerCase(), `the ID token's email is ${claims.email}`);
    check(claims.aud === clientId || (Array.isArray(claims.aud) && claims.aud.includes(clientId)), 'aud is not the client');
    const at = decodeJwtPart(tokens.access_token, 0);
    return {
      pages,
      scope: tokens.scope,
      id_token_alg: header.alg,
      access_token_header: { alg: at.alg, typ: at.typ },
      claims: { sub: claims.sub, email: claims.email, account_id: claims.account_id, role: claims.role, amr: claims.amr },
    };
  });

  await step('userinfo', async () => {
    const info = await client.fetchUserInfo(config, first.access_token, claims.sub);
    check(info.sub === claims.sub, 'userinfo sub differs');
    check(info.email?.toLowerCase() === user.email.toLowerCase(), `userinfo email is ${info.email}`);
    check(info.account_id === claims.account_id, 'userinfo account_id differs from the ID token');
    check(info.role === claims.role, 'userinfo role differs from the ID token');
    return { sub: info.sub, email: info.email, name: info.name };
  });

  if (confidential) {
    await step('introspection of the access token', async () => {
      const r = await client.tokenIntrospection(config, first.access_token);
      check(r.active === true, `introspection says ${JSON.stringify(r)}`);
      check(r.sub === claims.sub, `introspected sub is ${r.sub}`);
      check(r.client_id === clientId, `introspected client_id is ${r.client_id}`);
      const rt = await client.tokenIntrospection(config, first.refresh_token, { token_type_hint: 'refresh_token' });
      check(rt.active === true, `introspection of the refresh token says ${JSON.stringify(rt)}`);
      return { active: r.active, scope: r.scope, token_type: r.token_type, refresh_token_active: rt.active };
    });
  } else {
    await step('introspection is refused to a public client', async () =>
      expectOAuthError('introspection by a public client', 'invalid_client', () =>
        client.tokenIntrospection(config, first.access_token),
      ),
   
      { standalone: true },
    );
  }

  if (confidential) {
    await step('a wrong client secret is refused with invalid_client', async () => {
      const wrong = `${clientSecret}x`;
      const bad = new client.Configuration(
        config.serverMetadata(),
        clientId,
        { id_token_signed_response_alg: idTokenAlg },
        authMethod === 'client_secret_post' ? client.ClientSecretPost(wrong) : client.ClientSecretBasic(wrong),
      );
      client.allowInsecureRequests(bad);
      // An unknown refresh token: the client must be refused before the grant is looked at.
      const attempt = () => client.refreshTokenGrant(bad, 'sbr_unknown-refresh-token');
      if (authMethod === 'client_secret_post') {
        // Credentials in the body: an invalid_client error in the body (RFC 6749 §5.2), with no challenge
        // for a scheme the client did not use.
        return expectOAuthError('a wrong client_secret in the body', 'invalid_client', attempt);
      }
      // HTTP Basic: 401 with a Basic challenge (RFC 6749 §5.2), which openid-client surfaces as such.
      try {
        await attempt();
      } catch (e) {
        if (e instanceof client.WWWAuthenticateChallengeError) {
          check(e.status === 401, `a wrong Basic secret answered ${e.status}`);
          check(
            e.cause.some((c) => c.scheme === 'basic'),
            `a wrong Basic secret is challenged with ${JSON.stringify(e.cause)}, not Basic`,
          );
          return { status: e.status, challenge: e.cause };
        }
        throw e;
      }
      fail('a wrong Basic client secret was accepted');
    }, { standalone: true });
  }

  let second;
  await step('refresh (rotation)', async () => {
    second = await client.refreshTokenGrant(config, first.refresh_token);
    check(second.access_token && second.access_token !== first.access_token, 'no new access_token');
    check(second.refresh_token, 'no new refresh_token: refresh tokens must rotate');
    check(second.refresh_token !== first.refresh_token, 'the same refresh token came back');
    check(second.token_type === 'bearer', `token_type is ${second.token_type}`);
    const info = await client.fetchUserInfo(config, second.access_token, claims.sub);
    check(info.sub === claims.sub, 'userinfo with the refreshed access token names someone else');
    return { scope: second.scope, id_token: second.id_token !== undefined };
  });

  await step('reuse of the old refresh token is refused and revokes the grant', async () => {
    const reuse = await expectOAuthError('reusing the rotated refresh token', 'invalid_grant', () =>
      client.refreshTokenGrant(config, first.refresh_token),
    );
    const family = await expectOAuthError('the newest refresh token after the reuse', 'invalid_grant', () =>
      client.refreshTokenGrant(config, second.refresh_token),
    );
    const access = await expectBearerChallenge('userinfo with an access token of the revoked grant', 'invalid_token', () =>
      client.fetchUserInfo(config, second.access_token, claims.sub),
    );
    return { reuse, newest_refresh_token: family, access_token: access };
  });

  let third;
  await step('second authorization (the portal session is reused)', async () => {
    const { tokens } = await authorize(false);
    third = tokens;
    check(tokens.refresh_token, 'no refresh_token');
    check(tokens.claims().sub === claims.sub, 'the second ID token names someone else');
    check(tokens.claims().sid !== claims.sid, 'the new grant has the revoked grant\'s sid');
    return { sid: tokens.claims().sid };
  });

  await step('revocation of the refresh token', async () => {
    await client.tokenRevocation(config, third.refresh_token, { token_type_hint: 'refresh_token' });
    const refused = await expectOAuthError('refreshing with the revoked refresh token', 'invalid_grant', () =>
      client.refreshTokenGrant(config, third.refresh_token),
    );
    let introspected;
    if (confidential) {
      const r = await client.tokenIntrospection(config, third.access_token);
      check(r.active === false, `the access token of the revoked grant is still active: ${JSON.stringify(r)}`);
      introspected = r.active;
    }
    // Revoking an unknown token is not an error (RFC 7009 §2.2).
    await client.tokenRevocation(config, 'sbr_not-a-token');
    return { refresh: refused, access_token_active: introspected };
  });

  let sessionCookie;
  await step('RP-initiated logout', async () => {
    sessionCookie = browser.cookies.get('sb_session');
    check(sessionCookie, 'no session cookie before logout');
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: third.id_token,
      post_logout_redirect_uri: postLogout,
      state,
    });
    const r = await browser.request(url.href);
    check(r.status === 303, `logout answered ${r.status}: ${alertText(r.text) ?? r.text.slice(0, 300)}`);
    const back = new URL(r.location);
    check(
      `${back.origin}${back.pathname}` === new URL(postLogout).href.replace(/\?.*$/, ''),
      `logout redirected to ${r.location}, not to ${postLogout}`,
    );
    check(back.searchParams.get('state') === state, `logout did not return the state: ${r.location}`);
    check(!browser.cookies.has('sb_session'), 'the session cookie was not cleared');
    return { location: r.location };
  });

  await step('the session is gone', async () => {
    const r = await browser.request(`${base}${ACCOUNT_PATH}`, { cookieOverride: `sb_session=${sessionCookie}` });
    check(r.status === 303 || r.status === 302, `${ACCOUNT_PATH} with the old session answered ${r.status}`);
    const to = new URL(r.location);
    check(to.pathname === LOGIN_PATH, `${ACCOUNT_PATH} with the old session redirected to ${r.location}`);
    return { location: to.pathname + to.search };
  });

  await step('prompt=none without a session answers login_required', async () => {
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce: client.randomNonce(),
      prompt: 'none',
    });
    const r = await browser.request(url.href);
    check(r.status === 303 && r.location?.startsWith(redirectUri), `prompt=none answered ${r.status} ${r.location ?? ''}`);
    // openid-client checks iss and state of the error response before reporting the error itself.
    try {
      await client.authorizationCodeGrant(config, new URL(r.location), { pkceCodeVerifier: codeVerifier, expectedState: state });
    } catch (e) {
      if (e instanceof client.AuthorizationResponseError) {
        check(e.error === 'login_required', `expected login_required, got ${e.error}: ${e.error_description}`);
        return { error: e.error, error_description: e.error_description };
      }
      throw e;
    }
    fail('prompt=none without a session produced a code');
  }, { standalone: true });

  summary.http_trail = browser.trail;
  summary.ok = summary.steps.every((s) => s.ok);
  return summary;
}

let current = 'setup';

function describe(e) {
  const out = { name: e?.name ?? typeof e, message: e?.message ?? String(e) };
  for (const k of ['code', 'error', 'error_description', 'status']) {
    if (e?.[k] !== undefined) out[k] = e[k];
  }
  if (e?.cause !== undefined) {
    const c = e.cause;
    out.cause = c instanceof Error ? describe(c) : c;
  }
  if (e?.response instanceof Response) {
    out.response = {
      status: e.response.status,
      headers: Object.fromEntries(e.response.headers.entries()),
    };
  }
  return out;
}

try {
  const summary = await main();
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (!summary.ok) {
    for (const s of summary.steps.filter((x) => !x.ok)) {
      process.stderr.write(`openid-client conformance check FAILED at step "${s.step}": ${s.error.message}\n`);
    }
    process.exit(1);
  }
} catch (e) {
  const detail = describe(e);
  process.stderr.write(`openid-client conformance check FAILED at step "${current}": ${detail.message}\n`);
  if (!(e instanceof CheckFailed)) {
    process.stderr.write(`${JSON.stringify(detail, null, 2)}\n`);
    if (e?.stack) process.stderr.write(`${e.stack}\n`);
  }
  process.exit(1);
}
