// Comparison OpenID provider for the Skybridge client-credentials benchmark:
// panva's certified `oidc-provider` with its default in-memory adapter, one
// confidential client, and nothing else of note enabled. Single process, no
// cluster. See README.md beside this file.
//
// Env: PORT (4100), CLIENT_ID (bench-client), CLIENT_SECRET (bench-secret),
//      ACCESS_TOKEN_FORMAT (opaque | jwt; default opaque).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as http from 'node:http';

// Neither oidc-provider 8.8.1 nor Koa changes behaviour on NODE_ENV (Koa
// only records it as app.env); set for form, before the Koa app is built.
// Per-request logging is off unless DEBUG=oidc-provider:* is set.
process.env.NODE_ENV ??= 'production';

const { default: Provider } = await import('oidc-provider');

const port = Number.parseInt(process.env.PORT ?? '4100', 10);
const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;
const clientId = process.env.CLIENT_ID || 'bench-client';
const clientSecret = process.env.CLIENT_SECRET || 'bench-secret';
const format = (process.env.ACCESS_TOKEN_FORMAT || 'opaque').toLowerCase();
if (format !== 'opaque' && format !== 'jwt') {
  console.error(`ACCESS_TOKEN_FORMAT must be "opaque" or "jwt", got ${JSON.stringify(format)}`);
  process.exit(2);
}

// Fresh signing keys per start instead of the library's published dev keys.
// RS256 is the default id_token alg clients get; ES256 signs JWT access tokens
// when ACCESS_TOKEN_FORMAT=jwt (Skybridge issues ES256 JWT access tokens).
const jwk = (type, opts, alg, kid) => ({
  ...generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
  alg,
  use: 'sig',
  kid,
});
const jwks = {
  keys: [
    jwk('ec', { namedCurve: 'P-256' }, 'ES256', 'bench-es256'),
    jwk('rsa', { modulusLength: 2048 }, 'RS256', 'bench-rs256'),
  ],
};

const TOKEN_TTL = 600; // seconds; Skybridge's access_token_minutes default is 10
const RESOURCE = `${issuer}/bench-api`;

const configuration = {
  // adapter: left unset => the library's built-in in-memory (LRU) adapter.
  jwks,
  // Unused by this grant; set so the library does not warn about it.
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    // Only used for JWT access tokens: the access-token format is a property
    // of the resource server, so resolve every request to one resource
    // server whose tokens are ES256 JWTs. Off => opaque tokens, stored in
    // the in-memory adapter.
    resourceIndicators: format === 'jwt'
      ? {
        enabled: true,
        defaultResource: () => RESOURCE,
        getResourceServerInfo: () => ({
          scope: '',
          audience: RESOURCE,
          accessTokenTTL: TOKEN_TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      }
      : { enabled: false },
  },
  ttl: {
    ClientCredentials: TOKEN_TTL,
  },
};

const provider = new Provider(issuer, configuration);

// Log server-side failures only (a 500 in a benchmark must not go unseen);
// the library logs nothing per request by itself.
provider.on('server_error', (ctx, err) => {
  console.error('server_error', err);
});

const server = http.createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.listen(port, host, () => {
  console.log(`listening on ${issuer}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
