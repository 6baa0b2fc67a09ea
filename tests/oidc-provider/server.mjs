// A real OAuth 2.0 authorization server for tests/testsuite/oidc_provider.rs:
// panva/node-oidc-provider with client_credentials, private_key_jwt and
// RFC 8705 tls_client_auth, over https on 127.0.0.1 (port chosen by the
// system). oidc-provider does not terminate TLS itself: this server asks
// for a client certificate, lets the handshake through either way, and
// oidc-provider's mTLS hooks read the certificate and whether it chains
// to the client CA.
//
//   node server.mjs CONFIG.json
//
// CONFIG.json: {"server_key", "server_cert", "client_ca": PEM file paths,
//   "clients": [{"client_id", "method": "private_key_jwt",
//   "public_key": PEM file, "kid"?} | {"client_id", "method":
//   "tls_client_auth", "subject_dn": "CN=..."}],
//   "resource"?: "https://api.example"}
//
// With "resource", resource indicators (RFC 8707) are on and every
// client-credentials token is a JWT access token for that resource (its
// `aud`), signed with the provider's published keys (RS256), also when the
// request names no resource; without it tokens are opaque.
//
// Prints "listening PORT" on stdout once it accepts connections.

import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const read = (path) => readFileSync(path, 'utf8');

function client(entry) {
  const common = {
    client_id: entry.client_id,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: entry.method,
  };
  if (entry.method === 'private_key_jwt') {
    const jwk = createPublicKey(read(entry.public_key)).export({ format: 'jwk' });
    if (entry.kid) jwk.kid = entry.kid;
    return { ...common, jwks: { keys: [jwk] } };
  }
  return { ...common, tls_client_auth_subject_dn: entry.subject_dn };
}

// One resource server whose tokens are JWTs.
function resourceIndicators(resource) {
  return {
    enabled: true,
    defaultResource: () => resource,
    useGrantedResource: () => true,
    getResourceServerInfo: (ctx, indicator) => {
      if (indicator !== resource) throw new errors.InvalidTarget();
      return {
        scope: '',
        audience: resource,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
}

const peer = (ctx) => ctx.req.socket.getPeerX509Certificate?.() ?? undefined;

let handle = (req, res) => {
  res.statusCode = 503;
  res.end();
};

const server = https.createServer(
  {
    key: read(config.server_key),
    cert: read(config.server_cert),
    ca: read(config.client_ca),
    requestCert: true,
    rejectUnauthorized: false,
  },
  (req, res) => handle(req, res),
);

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`https://localhost:${port}`, {
    clients: config.clients.map(client),
    clientAuthMethods: ['private_key_jwt', 'tls_client_auth'],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      ...(config.resource ? { resourceIndicators: resourceIndicators(config.resource) } : {}),
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        getCertificate: peer,
        certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
        certificateSubjectMatches: (ctx, property, expected) =>
          property === 'tls_client_auth_subject_dn' && peer(ctx)?.subject === expected,
      },
    },
  });
  provider.on('grant.error', (ctx, error) => {
    console.error(`grant.error ${error.error}: ${error.error_description} (${error.error_detail ?? ''})`);
  });
  handle = provider.callback();
  console.log(`listening ${port}`);
});
