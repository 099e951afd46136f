// A real OpenID Connect provider for the single sign-on tests: the
// oidc-provider package (certified by the OpenID Foundation), with its
// development login and consent pages. It listens on 127.0.0.1 on a port of
// its own choosing, prints "ready PORT", and obeys commands on stdin:
//   disable ACCOUNT          the account no longer exists for the provider
//   groups ACCOUNT G1,G2     the account's groups change
// Arguments: the client's redirect URI.
import http from 'node:http';
import readline from 'node:readline';
import Provider from 'oidc-provider';

const redirectURI = process.argv[2];
const accounts = new Map([
  ['claire', { name: 'Dr Claire Martin', preferred_username: 'claire.martin', groups: ['onco-prescripteurs', 'tous'] }],
  ['paul', { name: 'Paul Durand', preferred_username: 'paul.durand', groups: ['pharmacie'] }],
  ['bob', { name: 'Bob Visiteur', preferred_username: 'bob', groups: ['visiteurs'] }],
]);

const configuration = {
  clients: [{
    client_id: 'relais',
    client_secret: 'relais-test-secret',
    redirect_uris: [redirectURI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }],
  // PKCE for every client, not only public ones.
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  scopes: ['openid', 'profile', 'groups'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], groups: ['groups'] },
  // A refresh token whenever the client may use one (Relais revalidates
  // sessions with it), without asking for offline_access.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  cookies: { keys: ['relais-test-cookie-key'] },
  async findAccount(ctx, id) {
    const a = accounts.get(id);
    if (!a || a.disabled) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: a.name, preferred_username: a.preferred_username, groups: a.groups };
      },
    };
  },
};

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
  server.on('request', provider.callback());
  console.log(`ready ${port}`);
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, id, arg] = line.trim().split(/\s+/);
  const a = accounts.get(id);
  if (!a) { console.log(`unknown ${id}`); return; }
  if (cmd === 'disable') a.disabled = true;
  if (cmd === 'groups') a.groups = (arg || '').split(',').filter(Boolean);
  console.log(`ok ${cmd} ${id}`);
}).on('close', () => process.exit(0));
