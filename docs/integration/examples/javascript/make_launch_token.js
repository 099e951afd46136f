#!/usr/bin/env node
// Make a Relais contextual launch token, as an EHR does, and print it.
// Node.js only (no package): ES256 with node:crypto.
//
//   node make_launch_token.js --key ehr.pem --ehr dpi-chg --site chu-bordeaux \
//     --user u42 --user-name "Dr Claire Martin" --role MED --ipp 7001 \
//     --ins 206127511100564 --birth-name DUPONT --first-names Marie \
//     --birth-date 2006-12-14 --sex F
//
// The EHR then posts the token to https://RELAIS/launch in a form field
// named "token" (docs/integration/launch.md). A token opens Relais once and
// expires 60 seconds after it is made at most.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const { parseArgs } = require('node:util');

const { values: a } = parseArgs({
  options: {
    key: { type: 'string' }, ehr: { type: 'string' }, site: { type: 'string' },
    user: { type: 'string' }, 'user-name': { type: 'string' }, role: { type: 'string' }, rpps: { type: 'string' },
    ipp: { type: 'string' }, ins: { type: 'string' }, 'ins-oid': { type: 'string', default: '1.2.250.1.213.1.4.8' },
    'birth-name': { type: 'string' }, 'used-name': { type: 'string' }, 'first-names': { type: 'string' },
    'birth-date': { type: 'string' }, sex: { type: 'string' }, purpose: { type: 'string', default: 'care' },
  },
});
for (const k of ['key', 'ehr', 'site', 'user', 'user-name', 'role', 'ipp', 'birth-name', 'first-names', 'birth-date', 'sex']) {
  if (!a[k]) { console.error('missing --' + k); process.exit(2); }
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const key = crypto.createPrivateKey(fs.readFileSync(a.key));
// RFC 7638 thumbprint of the public key: the key id Relais computes.
const jwk = crypto.createPublicKey(key).export({ format: 'jwk' });
const kid = crypto.createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('hex');

const now = Math.floor(Date.now() / 1000);
const ins = a.ins ? { matricule: a.ins.replace(/\s/g, ''), oid: a['ins-oid'], status: 'qualified' } : { status: 'provisional' };
const user = { id: a.user, name: a['user-name'], role: a.role };
if (a.rpps) user.rpps = a.rpps;
const patient = {
  ipp: a.ipp, ins, birth_name: a['birth-name'], first_names: a['first-names'].split(',').map((s) => s.trim()).filter(Boolean),
  birth_date: a['birth-date'], sex: a.sex,
};
if (a['used-name']) patient.used_name = a['used-name'];
const claims = { iss: a.ehr, aud: a.site, sub: a.user, iat: now, exp: now + 60, jti: crypto.randomUUID(), user, patient, purpose: a.purpose };

const input = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid })) + '.' + b64url(JSON.stringify(claims));
// JWS wants the raw r||s signature (IEEE P1363), not DER.
const sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
console.log(input + '.' + b64url(sig));
